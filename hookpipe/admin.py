"""The admin "Pipeline" page: what ``manage.py hookpipe`` prints, live, as a web page.

The page is the changelist of the unmanaged :class:`~hookpipe.models.Pipeline` model,
so it appears under a "Hookpipe" section on the admin index, is guarded by the
``hookpipe.view_pipeline`` permission, and works on any ``AdminSite``: register
:class:`PipelineAdmin` on yours as ``site.register(Pipeline, PipelineAdmin)``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import django
from django.apps import apps
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.views.decorators.http import require_POST

from . import conf
from .core.plan import plan
from .introspection.data import inspect_pipeline
from .introspection.display import (
    CounterTable,
    PluginView,
    counter_tables,
    flatten,
    fleet_tables,
    global_hooks,
    kind_label,
    plugin_view,
    pool_table,
    process_table,
    task_backends,
)
from .models import DeadJob, Pipeline

if TYPE_CHECKING:
    _ModelAdmin = admin.ModelAdmin[Pipeline]
else:  # ModelAdmin cannot be subscripted at run time
    _ModelAdmin = admin.ModelAdmin


def _bad_request(message: str) -> HttpResponse:
    """A 400 whose message may echo what the user sent: plain text, and marked so that
    no browser sniffs it into HTML (as Django's default ``text/html`` would render it)."""
    response = HttpResponseBadRequest(message + "\n", content_type="text/plain; charset=utf-8")
    response["X-Content-Type-Options"] = "nosniff"
    return response


class PipelineAdmin(_ModelAdmin):
    """A read-only page; there is nothing to add, change or delete."""

    template_name = "admin/hookpipe/pipeline/pipeline.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view(self.changelist_view)
        # admin_view() also applies csrf_protect: a POST without the token gets 403.
        switch = self.admin_site.admin_view(require_POST(self.switch_view))
        pause = self.admin_site.admin_view(require_POST(self.pause_view))
        return [
            path("", view, name="{}_{}_changelist".format(*info)),
            path("switch/", switch, name="{}_{}_switch".format(*info)),
            path("pause/", pause, name="{}_{}_pause".format(*info)),
        ]

    def has_switch_permission(self, request: HttpRequest) -> bool:
        """May switch plugins on and off: the fleet app is installed (it keeps the
        switches) and the user has ``hookpipe.change_pipeline``."""
        return apps.is_installed("hookpipe.fleet") and self._may_operate(request)

    def switch_view(self, request: HttpRequest) -> HttpResponse:
        """POST ``name`` and ``action`` (``disable`` or ``enable``): store the switch, log
        it as an admin ``LogEntry``, and go back to the page."""
        if not self.has_switch_permission(request):
            raise PermissionDenied
        # The fleet's modules define its models: importable only with the app installed.
        from .fleet import operations, store, switchable

        name = request.POST.get("name", "")
        action = request.POST.get("action", "")
        if action not in ("disable", "enable"):
            return _bad_request("action must be 'disable' or 'enable'.")
        built_plan = plan(conf.get_config())
        known = switchable.switchable(built_plan)
        if name not in known:
            suggestion = conf.did_you_mean(name, sorted(known), "Plugins")
            return _bad_request(f"No configured plugin is named {name!r}. {suggestion}")
        if name in built_plan.config.switches["LOCKED"]:
            return _bad_request(f'{name!r} is locked on (HOOKPIPE["SWITCHES"]["LOCKED"]).')
        user = request.user.get_username()
        row, changed = store.set_enabled(name, action == "enable", user, via="admin")
        if changed:
            message = f"{'Enabled' if row.enabled else 'Disabled'} the {known[name]} {name!r}."
            self.log_change(request, row, message)  # type: ignore[arg-type]
            operations.current().watch.expire()  # this process applies it at once; the others soon
            every = built_plan.config.switches["CHECK_EVERY"]
            self.message_user(
                request,
                f"{message} Every process applies it within {every:g} seconds.",
                messages.SUCCESS,
            )
            from .tasks import pause

            if not row.enabled and name in pause.task_handlers(built_plan):
                self.message_user(request, pause.DROPPED_WHEN_OFF, messages.WARNING)
        else:
            self.message_user(
                request, f"{name!r} was already {action}d; nothing changed.", messages.INFO
            )
        return HttpResponseRedirect(self._changelist_url() + "#hp-switches")

    def has_pause_permission(self, request: HttpRequest) -> bool:
        """May pause and resume task handlers."""
        return self._may_operate(request)

    def _may_operate(self, request: HttpRequest) -> bool:
        # The page's change permission, hookpipe.change_pipeline; has_change_permission
        # stays False: the page has no change form.
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")

    def pause_view(self, request: HttpRequest) -> HttpResponse:
        """POST ``name`` and ``action`` (``pause`` or ``resume``) for a task handler:
        pause it, or resume it (its parked jobs enqueued again), log it as an admin
        ``LogEntry``, and go back to the page."""
        if not self.has_pause_permission(request):
            raise PermissionDenied
        from .tasks import pause, resume

        name = request.POST.get("name", "")
        action = request.POST.get("action", "")
        if action not in ("pause", "resume"):
            return _bad_request("action must be 'pause' or 'resume'.")
        built_plan = plan(conf.get_config())
        tasks = pause.task_handlers(built_plan)
        if name not in tasks:
            others = {p.name for p in built_plan.plugins}
            if name in others:
                return _bad_request(
                    f"{name!r} is not a task handler (RUNNER = 'task'): only a task handler's "
                    "deliveries can be kept while it is paused."
                )
            suggestion = conf.did_you_mean(name, sorted(tasks), "Task handlers")
            return _bad_request(f"No configured task handler is named {name!r}. {suggestion}")
        who = f"{request.user.get_username()} (admin)"
        if action == "pause":
            row, changed = pause.pause(name, who)
            if changed:
                self.log_change(request, row, f"Paused the task handler {name!r}.")  # type: ignore[arg-type]
                self.message_user(
                    request,
                    f"Paused the task handler {name!r}: its deliveries are stored and parked "
                    "by the task workers, not run, until you resume it.",
                    messages.SUCCESS,
                )
            else:
                self.message_user(
                    request, f"{name!r} was already paused; nothing changed.", messages.INFO
                )
        else:
            try:
                done = resume.resume(name, who)
            except Exception as exc:  # the database, or a parked job's backend, refused
                self.message_user(
                    request,
                    f"{name!r} stays paused: its parked jobs could not be enqueued again "
                    f"({type(exc).__name__}: {exc}).",
                    messages.ERROR,
                )
                return HttpResponseRedirect(self._changelist_url() + "#hp-pauses")
            jobs = f"{done.jobs} parked job{'' if done.jobs == 1 else 's'} enqueued again"
            if done.pause is not None:
                message = f"Resumed the task handler {name!r}: {jobs}."
                self.log_change(request, done.pause, message)  # type: ignore[arg-type]
                self.message_user(request, message, messages.SUCCESS)
            else:
                self.message_user(request, f"{name!r} was not paused; {jobs}.", messages.INFO)
        return HttpResponseRedirect(self._changelist_url() + "#hp-pauses")

    def _changelist_url(self) -> str:
        info = self.opts.app_label, self.opts.model_name
        return reverse("admin:{}_{}_changelist".format(*info), current_app=self.admin_site.name)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # admin_view() has already sent anonymous and non-staff users to the login page.
        if not self.has_view_permission(request):
            raise PermissionDenied
        inspection = inspect_pipeline()
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "title": "Pipeline",
            "subtitle": None,
            "opts": self.opts,
            "app_label": self.opts.app_label,
            # Django 6 writes the admin's breadcrumbs as a list, Django 5.2 as a line.
            "breadcrumbs_as_list": django.VERSION >= (6, 0),
            "pid": os.getpid(),
            "fleet_installed": apps.is_installed("hookpipe.fleet"),
            "can_switch": self.has_switch_permission(request),
            "switch_url": reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_switch",
                current_app=self.admin_site.name,
            ),
            "can_pause": self.has_pause_permission(request),
            "pause_url": reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_pause",
                current_app=self.admin_site.name,
            ),
            "inspection": inspection,
            "problems": [{"id": p.id, "msg": p.msg, "hint": p.hint} for p in inspection.problems],
            **(_page(inspection.data) if inspection.data is not None else {}),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.template_name, context)


def _page(data: dict[str, Any]) -> dict[str, Any]:
    """Arrange the inspection data for the template (which cannot do it itself)."""
    tweens = []
    position = 0
    for tween in data.get("tweens") or []:
        omitted = bool(tween.get("omitted"))
        tweens.append(
            {
                **tween,
                "position": None if omitted else position,
                "kind_label": kind_label(tween.get("kind")),
                "over_text": ", ".join(tween.get("over") or []),
                "under_text": ", ".join(tween.get("under") or []),
            }
        )
        position += 0 if omitted else 1
    counters = counter_tables(data)
    backends = task_backends(data)
    cluster = _cluster(data)
    return {
        "data": data,
        "explicit": data.get("tween_order") == "explicit",
        "tweens": tweens,
        "hooks": _table(global_hooks(data)),
        "view_hooks": [
            {**entry, "hook_views": [plugin_view(h) for h in entry.get("hooks") or []]}
            for entry in data.get("view_hooks") or []
        ],
        # (heading, settings key, plugins, their counter tables)
        "plugin_kinds": [
            (
                "Handlers",
                "HANDLERS",
                [plugin_view(h) for h in data.get("handlers") or []],
                [t for t in counters if t.key.startswith("handler:")],
            ),
            (
                "Responders",
                "RESPONDERS",
                [plugin_view(r) for r in data.get("responders") or []],
                [t for t in counters if t.key == "responder"],
            ),
        ],
        "task_backends": backends,
        "task_pauses": (pauses := _task_pauses(data)),
        "task_handler_names": [pause["name"] for pause in pauses],
        "pool_settings": flatten(data.get("thread_pool") or {}),
        "pool_state": pool_table(data),
        "switches": data.get("switches") or {},
        "cluster": cluster,
        "attention": [
            *_attention("this process", counters),
            *_attention("", [backends] if backends else []),
            *_attention("fleet", cluster["tables"]),
            *_attention("fleet", [cluster["process_table"]] if "process_table" in cluster else []),
        ],
    }


def _task_pauses(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Each task handler's pause, for the page's pause and resume buttons."""
    rows = []
    for item in data.get("handlers") or []:
        task = item.get("task") if isinstance(item, dict) else None
        if not isinstance(task, dict):
            continue
        rows.append({"name": item.get("name"), **(task.get("pause") or {})})
    return rows


def _cluster(data: dict[str, Any]) -> dict[str, Any]:
    """The fleet arranged for the template: a row per process, the totals a table per
    kind of plugin with a row per process under each plugin's."""
    cluster = data.get("cluster") or {}
    if not cluster:
        return {"tables": []}
    processes = process_table(data)
    return {
        **cluster,
        # The state and times of each process, next to its row of the table.
        "process_rows": list(zip(cluster.get("processes") or [], processes.rows, strict=True)),
        "process_table": processes,
        "tables": fleet_tables(data),
    }


#: The section of the page that shows each kind of counter table.
_SECTIONS = {"responder": "hp-responders", "task-backends": "hp-handlers"}


def _attention(where: str, tables: list[CounterTable]) -> list[dict[str, str]]:
    """The problems of ``tables`` for the list at the top of the page, each with a link
    to the section that shows it."""
    return [
        {
            "anchor": "hp-cluster" if where == "fleet" else _SECTIONS.get(t.key, "hp-handlers"),
            "text": f"{problem} ({where})" if where else problem,
        }
        for t in tables
        for problem in t.problems
    ]


def _table(views: list[PluginView]) -> dict[str, Any]:
    """Plugins as one table: a column for every field any of them reports."""
    keys: list[str] = []
    for view in views:
        keys += [key for key, _ in view.fields if key not in keys]
    title_column = 1 if keys[:1] == ["priority"] else 0
    headers = [*keys[:title_column], "name", *keys[title_column:]]
    rows = []
    for view in views:
        values = {**dict(view.fields), "name": view.title}
        rows.append([values.get(key, "\u2013") for key in headers])
    return {
        "headers": [h[:1].upper() + h[1:] for h in headers],
        "rows": rows,
        "title_column": title_column,
    }


admin.site.register(Pipeline, PipelineAdmin)


if TYPE_CHECKING:
    _DeadJobAdminBase = admin.ModelAdmin[DeadJob]
else:
    _DeadJobAdminBase = admin.ModelAdmin


@admin.register(DeadJob)
class DeadJobAdmin(_DeadJobAdminBase):
    """The dead task jobs: read only, with one action, replay (permission
    ``hookpipe.replay_deadjob``), which leaves an entry in each job's history."""

    list_display = ("died_at", "handler", "request_id", "attempts", "short_error", "replayed_at")
    list_filter = ("handler", ("replayed_at", admin.EmptyFieldListFilter))
    search_fields = ("request_id", "handler", "error")
    readonly_fields = [field.name for field in DeadJob._meta.fields]
    actions = ["replay_selected"]

    @admin.display(description="error")
    def short_error(self, job: DeadJob) -> str:
        return job.error if len(job.error) <= 100 else job.error[:99] + "…"

    @admin.action(description="Replay the selected dead jobs", permissions=["replay"])
    def replay_selected(self, request: HttpRequest, queryset: Any) -> None:
        from .tasks import dead

        who = f"{request.user.get_username()} (admin)"
        done = dead.replay(queryset, who)
        for job in done:
            self.log_change(request, job, "Replayed as a new task job.")
        skipped = queryset.count() - len(done)
        self.message_user(
            request,
            f"{len(done)} dead job{'s' if len(done) != 1 else ''} replayed"
            + (f"; {skipped} had been replayed already." if skipped else "."),
            messages.SUCCESS,
        )

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("hookpipe.replay_deadjob")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
