"""HTTP routes of teachers' own course material (docs/api.md, "Teachers' material"):
``POST /api/materials`` (multipart, one or more files), ``GET /api/materials``,
``GET /api/materials/{id}`` (the record and the whole text) and ``DELETE /api/materials/{id}``,
over ``tutor.usecases.materials``.

Anyone with a key may read materials (answers cite them); adding and removing takes a teacher key
(``KEY:teacher``: the one write a teacher key may make) or an admin key; a learner key gets 403.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Request, UploadFile
from pydantic import BaseModel

from tutor.errors import Forbidden, Unauthorized
from tutor.web.api import schemas as m
from tutor.web.api.common import Auth, TutorDep, tutor_of
from tutor.web.api.schemas import out

router = APIRouter(prefix="/api", tags=["teachers"], responses=m.ERROR_RESPONSES)


class MaterialOut(BaseModel):
    id: str
    title: str
    source_name: str
    kind: str
    uploader: str
    content_hash: str
    size: int
    sections: int
    added: str
    link: str


class MaterialTextOut(MaterialOut):
    text: str


class MaterialErrorOut(BaseModel):
    file: str
    error: str


class MaterialsAddedOut(BaseModel):
    added: list[MaterialOut]
    errors: list[MaterialErrorOut]


def teacher_or_admin(request: Request) -> str:
    """The uploader's name for a call that changes materials: ``teacher``, ``admin`` or ``local``
    (no keys configured: loopback only). A learner key is refused."""
    keys = tutor_of(request).settings.api_key_map
    if not keys:
        return "local"
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("send `Authorization: Bearer <API key>`; keys are set by TUTOR_API_KEYS")
    who = keys.get(token.strip())
    if who is None:
        raise Unauthorized("unknown API key")
    if who not in ("teacher", "admin"):
        raise Forbidden(
            "adding or removing course material needs a teacher key (KEY:teacher) or an admin key"
        )
    return who


Editor = Annotated[str, Depends(teacher_or_admin)]


@router.post("/materials", **out(MaterialsAddedOut))
def add_materials(
    tutor: TutorDep,
    who: Editor,
    files: Annotated[list[UploadFile], File(description="Markdown, text, PDF, .ipynb or HTML files")],
) -> dict[str, Any]:
    """Index each file (replacing an earlier file of the same name): ``{"added": [material],
    "errors": [{"file", "error"}]}``. A bad file is named in ``errors`` and nothing of it is
    indexed; when no file could be added the answer is 400 with ``details.errors``."""
    batch = [(f.filename or "", f.file.read()) for f in files]
    return tutor.materials.add(batch, uploader=who)  # type: ignore[no-any-return]


@router.get("/materials", **out(list[MaterialOut]))
def list_materials(tutor: TutorDep, _who: Auth) -> list[dict[str, Any]]:
    """Every material: ``[{"id", "title", "source_name", "kind", "uploader", "content_hash",
    "size", "sections", "added", "link"}]``."""
    return tutor.materials.list()  # type: ignore[no-any-return]


@router.get("/materials/{material_id}", **out(MaterialTextOut))
def get_material(material_id: str, tutor: TutorDep, _who: Auth) -> dict[str, Any]:
    """One material's record and its whole text as Markdown (``text``): what answers cite."""
    return tutor.materials.get(material_id)  # type: ignore[no-any-return]


@router.delete("/materials/{material_id}", **out(MaterialOut))
def remove_material(material_id: str, tutor: TutorDep, _who: Editor) -> dict[str, Any]:
    """Remove a material from answers and the list; returns its record."""
    return tutor.materials.remove(material_id)  # type: ignore[no-any-return]
