"""Prompt and reply text, as data. Nodes fill these with ``str.format``; nothing else in the
agent writes learner-facing prose, so wording changes happen here."""

from __future__ import annotations

# --- model prompts ---
CHITCHAT_SYSTEM = (
    "You are a friendly tutor for data science, machine learning and GPT transformers. "
    "Answer small talk in one or two short sentences and steer back to learning."
)

AGENT_SYSTEM = (
    "You are a tutor for data science, machine learning and GPT transformers, talking to learner "
    "{learner_id}. Use the tools: search_notes before explaining a concept (cite the topic id and "
    "section you used), run_code to run code, grade_exercise to grade a submission, get_exercise "
    "for exercise statements, make_plan for lesson plans, start_training / job_status for training "
    "jobs, get_progress for mastery and due reviews. Never write the full solution of a course "
    "exercise: give a hint and the next step instead. End every answer with one thing the learner "
    "can do next."
)

# --- the menu shown when the tutor is unsure what was asked ---
CAPABILITIES = (
    'I can explain a concept from the course notes ("what is broadcasting?"), make a study plan '
    '("plan 2 hours towards attention"), run Python (paste it in a ``` block), give you an '
    'exercise and grade it ("grade this"), start a training job ("train a small gpt on the '
    'numpy notes"), and show your progress or what is due for review.'
)
GREETING = "Hi! " + CAPABILITIES
THANKS = "You're welcome! Want to keep going? Say \"what's next?\" to continue your plan."
FALLBACK = "I'm not sure what you need. " + CAPABILITIES

# --- explain ---
EXPLAIN_NO_PASSAGES = (
    "I couldn't find anything about that in the course notes. Try naming the concept "
    '(e.g. "broadcasting", "gradient descent", "self-attention"), or ask for a study plan.'
)
EXPLAIN_SOURCES = "Source: {sources}."
EXPLAIN_NEXT_EXERCISE = 'Next: try the exercise `{exercise_id}` ({title}) — say "give me {exercise_id}".'
EXPLAIN_NEXT_TOPIC = "Next: when this feels solid, move on to {title} (`{topic_id}`)."
EXPLAIN_NEXT_ASK = 'Ask me a follow-up, or say "what\'s next?" for your plan.'

# --- plan ---
PLAN_HEADER = "Here's your plan for {hours:g} h{goal}:"
PLAN_ITEM = "{n}. {activity} {title} (`{topic_id}`) — {minutes} min"
PLAN_FOOTER = "Say \"what's next?\" and I'll take you through it step by step."
PLAN_EMPTY = "There's nothing left to plan on this path — everything is mastered. Pick a new goal topic."
PLAN_NEXT = "Next in your plan ({n}/{total}): {activity} {title} (`{topic_id}`), about {minutes} min."
PLAN_NEXT_EXERCISE = 'Practise with the exercise `{exercise_id}` ({title}): say "give me {exercise_id}".'
PLAN_NEXT_STUDY = 'Start by asking me about it, e.g. "explain {title}".'
PLAN_DONE = 'You\'ve reached the end of your plan. Ask for a new one, e.g. "plan 2 hours".'
PLAN_NONE = "You don't have a plan yet — here's one."

# --- run ---
RUN_NO_CODE = 'Paste the code you want me to run in a ```python block and say "run this".'
RUN_OK = "It ran in {duration:.2f} s."
RUN_OK_NO_OUTPUT = "It ran in {duration:.2f} s without printing anything — add print() to see values."
RUN_ERROR = "It raised **{name}**: {message}"
RUN_ERROR_NEXT = "Look at the line the traceback points to, fix it, and send it again."
RUN_TIMEOUT = "It didn't finish within the time limit and was stopped. Check for an endless loop, or try a smaller input."
RUN_KILLED = "It was stopped because it used too much memory or output. Try a smaller input."
RUN_IMAGE = "(it produced a plot)"
RUN_UNAVAILABLE = "I couldn't run code just now: {error}. Try again in a moment; if it keeps failing, the code sandbox needs attention."

# --- grade ---
GRADE_WHICH = (
    'Which exercise is this for? Say e.g. "grade this for {example}" (`tutor exercises` lists them).'
)
GRADE_NO_CODE = 'Paste your solution for `{exercise_id}` in a ```python block with "grade this".'
GRADE_PASSED = (
    "✅ All tests of `{exercise_id}` pass (score {score:.0%}). Your mastery of {topic} is now {mastery:.0%}."
)
GRADE_FAILED = "Not yet: {passed}/{total} tests of `{exercise_id}` pass (score {score:.0%})."
GRADE_STATUS = "Your code didn't finish cleanly ({status})."
GRADE_HIDDEN = "A hidden test failed too — think about edge cases the public tests don't show."
GRADE_HINT = "Hint: {hint}"
GRADE_RETRY = 'Fix it and send it again with "grade this".'
GRADE_UNAVAILABLE = (
    "I couldn't grade it just now: {error}. Your attempt was not counted; try again in a moment."
)
GRADE_UNKNOWN = "I don't know the exercise {exercise_id!r}. {error}"

# --- exercise ---
EXERCISE_SHOW = "**{title}** (`{exercise_id}`, topic {topic}):\n\n{statement}"
EXERCISE_STARTER = "Starter code:\n```python\n{starter}\n```"
EXERCISE_TESTS = "Public tests: {tests}."
EXERCISE_GO = 'Write your solution and send it with "grade this".'
EXERCISE_SOCRATIC = (
    "I won't hand you the solution to `{exercise_id}` — working it out is what makes it stick. "
    "Here's a hint instead: {hint}"
)
EXERCISE_HINT = "Here's a hint for `{exercise_id}`: {hint}"
EXERCISE_SOCRATIC_NEXT = (
    "Next step: {step} Then send your attempt with \"grade this\" and I'll point at what's left."
)
EXERCISE_LIST = 'Exercises{where}: {items}. Say "give me <id>" to start one.'
EXERCISE_NONE = "There are no exercises{where} yet. Ask me to explain the topic instead."
CODE_REMOVED = "(code left out — try writing it yourself)"

# --- train ---
TRAIN_STARTED = 'Started {kind} job `{job_id}` ({status}). I\'ll report its progress when you ask "how is my job?" and announce the result when it finishes.'
TRAIN_FAILED_START = "I couldn't start the training job: {error}"
TRAIN_STATUS = "Job `{job_id}` ({kind}) is {status}, {progress:.0%} done{loss}."
TRAIN_DONE = "Job `{job_id}` ({kind}) finished: {metrics}{model}{plot}."
TRAIN_FAILED = "Job `{job_id}` ({kind}) {status}: {error}."
TRAIN_NONE = 'You have no training jobs yet. Say "train a small gpt on the numpy notes" to start one.'
TRAIN_NEXT_DONE = (
    'Try the new model `{model_id}` with "Use this model" in the Train tab, or ask me to train another.'
)
TRAIN_CANCELLED = "Cancelled job `{job_id}` ({kind}); it is {status} now."
TRAIN_NOTHING_TO_CANCEL = "You have no running or queued job to cancel."
TRAIN_NOT_YOURS = 'I can\'t find a job {job_id} among yours. Say "list my jobs" to see the ones you started.'
TRAIN_UNAVAILABLE = "I couldn't reach the training jobs just now: {error}. Try again in a moment."

# --- progress and review ---
PROGRESS_NONE = 'No graded attempts yet. Ask for an exercise ("give me an exercise on numpy") and I\'ll track your mastery.'
PROGRESS_HEADER = "Your mastery per topic ({passed} of {total} graded attempts passed):"
PROGRESS_ITEM = "- {title} (`{topic_id}`): {p:.0%}"
PROGRESS_DUE = 'Due for review: {topics}. Say "review" to do one now.'
PROGRESS_NEXT = 'Say "what\'s next?" to continue.'
REVIEW_NONE = 'Nothing is due for review right now.{next} Say "what\'s next?" to keep learning.'
REVIEW_NEXT_DUE = " Your next review is {title} on {due}."
REVIEW_ASK = (
    "Self-check on {title} (`{topic_id}`): in your own words, explain {point}. "
    "Then tell me how it went: again, hard, good or easy."
)
REVIEW_RECORDED = "Noted ({rating}). Next review of {title}: {due}."
REVIEW_MORE = 'Still due: {topics}. Say "review" for the next one.'

# --- failures ---
NODE_FAILED = "Something went wrong while I was {doing}: {error}. {what_to_do}"
