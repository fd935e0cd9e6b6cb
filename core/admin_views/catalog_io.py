"""Catalog import and export in the back office, with progress.

Jobs run in a background thread of the web process (each with its own
database connection); the page polls their progress. The server has
several worker processes and a poll may reach any of them: a job's state
is written to ``<data dir>/catalog-jobs/<id>.json`` (at most twice a
second while it runs, and when it ends), where every worker reads it. A
job keeps its result file until it is downloaded."""
from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import time
import uuid
import zipfile
from pathlib import Path

from flask import abort, current_app, jsonify, request, send_file, url_for
from flask_admin import expose
from flask_babel import gettext as _
from flask_login import current_user

from .metadata import PermissionView


JOB_ID = re.compile(r"[0-9a-f]{32}")
FIELDS = ("id", "kind", "owner", "done", "total", "stage", "status", "file", "counts")


class Job:
    def __init__(self, kind, owner, folder=None):
        self.id, self.kind, self.owner = uuid.uuid4().hex, kind, owner
        self.done, self.total, self.stage = 0, 0, ""
        self.status, self.problems, self.file, self.counts = "running", [], None, None
        self.folder, self.saved_at = folder, 0.0

    def progress(self, done, total, stage):
        self.done, self.total, self.stage = done, total, stage
        if time.monotonic() - self.saved_at >= 0.5:
            self.save()

    def save(self):
        """Write the state where every worker process reads it (atomically)."""
        if self.folder is None:
            return
        self.saved_at = time.monotonic()
        state = {name: getattr(self, name) for name in FIELDS}
        state.update(file=str(self.file) if self.file else None, problems=[str(p) for p in self.problems][:200])
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self.id}.json"
        scratch = path.with_name(f".{self.id}.{os.getpid()}.{threading.get_ident()}")
        scratch.write_text(json.dumps(state, ensure_ascii=False, default=str), encoding="utf-8")
        os.replace(scratch, path)

    @classmethod
    def load(cls, folder, job_id):
        """A job started by any worker process, or None."""
        if not JOB_ID.fullmatch(job_id or ""):
            return None
        try:
            state = json.loads((folder / f"{job_id}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        job = cls(state["kind"], state["owner"])
        for name in FIELDS:
            setattr(job, name, state.get(name))
        job.problems = state.get("problems") or []
        return job

    def as_dict(self):
        return {"id": self.id, "kind": self.kind, "done": self.done, "total": self.total, "stage": self.stage,
                "status": self.status, "problems": [str(p) for p in self.problems][:200], "counts": self.counts,
                "download": url_for(".download_view", job=self.id) if self.file and self.status == "done" else None}


class CatalogIOView(PermissionView):
    permission = "catalog.manage"

    def jobs(self):
        return current_app.extensions.setdefault("bangban_catalog_jobs", {})

    def folder(self):
        return Path(current_app.config["BANGBAN"]["DATA_DIR"]) / "catalog-jobs"

    def find(self, job_id):
        """This process's job, else one another worker process started."""
        return self.jobs().get(job_id) or Job.load(self.folder(), job_id)

    def _start(self, job, work):
        app = current_app._get_current_object()
        job.folder = self.folder()
        self.jobs()[job.id] = job
        job.save()

        def run():
            with app.app_context():
                database = app.extensions["bangban"].db
                database.connect(reuse_if_open=True)
                try:
                    work(job)
                    if job.status == "running":
                        job.status = "done"
                except Exception as exc:  # noqa: BLE001 - shown to the admin, logged
                    app.logger.exception("catalog job failed")
                    job.status, job.problems = "failed", [str(exc)]
                finally:
                    job.save()
                    if not database.is_closed():
                        database.close()

        threading.Thread(target=run, daemon=True, name=f"catalog-{job.id[:8]}").start()

    @expose("/")
    def index(self):
        return self.render("admin/bangban/catalog_io.html")

    @expose("/export", methods=["POST"])
    def export_view(self):
        from .. import catalog_io
        from ..registry import metadata_kinds

        fmt = request.form.get("format", "xlsx")
        kinds = metadata_kinds()
        job = Job(f"export-{fmt}", current_user.username)
        folder = Path(tempfile.mkdtemp(prefix="bangban-export-"))

        def work(job):
            if fmt == "yaml":
                catalog_io.export_yaml(folder / "packs", kinds=kinds)
                target = folder / "catalog-yaml.zip"
                with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
                    for path in sorted((folder / "packs").rglob("*.yaml")):
                        archive.write(path, path.relative_to(folder / "packs"))
                job.file = target
            else:
                job.file = catalog_io.export_xlsx(folder / "catalog.xlsx", progress=job.progress)

        self._start(job, work)
        return jsonify(job.as_dict())

    @expose("/import", methods=["POST"])
    def import_view(self):
        from .. import catalog_io
        from ..registry import metadata_kinds

        kinds = metadata_kinds()
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            return jsonify({"status": "failed", "problems": [_("Choose a file.")]}), 400
        head = upload.stream.read(4)
        upload.stream.seek(0)
        if head != b"PK\x03\x04":
            return jsonify({"status": "failed", "problems": [_("Upload an .xlsx workbook or a .zip of YAML packs.")]}), 400
        folder = Path(tempfile.mkdtemp(prefix="bangban-import-"))
        name = "upload.xlsx" if upload.filename.lower().endswith(".xlsx") else "upload.zip"
        upload.save(folder / name)
        job = Job("import", current_user.username)
        actor, role = current_user.username, current_user.role

        def work(job):
            if name.endswith(".xlsx"):
                result = catalog_io.import_xlsx(folder / name, progress=job.progress)
            else:
                with zipfile.ZipFile(folder / name) as archive:
                    for member in archive.namelist():
                        if member.startswith("/") or ".." in Path(member).parts:
                            raise ValueError(f"unsafe path in the archive: {member}")
                    archive.extractall(folder / "packs")
                result = catalog_io.import_yaml(folder / "packs", kinds=kinds, progress=job.progress)
            if not result.ok:
                job.status, job.problems = "invalid", result.problems
                return
            job.counts = catalog_io.apply_import(result, actor, role, job.progress)

        self._start(job, work)
        return jsonify(job.as_dict())

    @expose("/job/<job>")
    def job_view(self, job):
        found = self.find(job)
        if found is None or found.owner != current_user.username:
            abort(404)
        return jsonify(found.as_dict())

    @expose("/download/<job>")
    def download_view(self, job):
        found = self.find(job)
        if found is None or found.owner != current_user.username or not found.file:
            abort(404)
        return send_file(found.file, as_attachment=True, download_name=Path(found.file).name)
