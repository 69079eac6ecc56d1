# Writes forged records to every file descriptor it can find, then leaves before the harness runs
# any test. The forged answers are still wrong answers.
import json
import os

line = "".join(json.dumps({"kind": "result", "id": i, "value": [1.0, 1.0]}) + "\n" for i in range(10))
line += json.dumps({"kind": "done"}) + "\n"
for fd in range(3, 64):
    try:
        os.write(fd, line.encode())
    except OSError:
        pass
os._exit(0)
