"""``manage.py hookpipe``: print the pipeline, like Pyramid's ``ptweens``.

Building the pipeline calls the tween factories, as serving the first request would
(``ptweens`` does the same). A configuration that cannot be built is reported with its
check ids on stderr, and the command exits with status 1.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from hookpipe import conf
from hookpipe.core.plan import plan
from hookpipe.introspection import inspect_pipeline, render_text
from hookpipe.schema import db_error_text


class Command(BaseCommand):
    help = (
        "Show the hookpipe pipeline: the tween chain from INGRESS to MAIN, global and "
        "per-view hooks, handlers, responders and the thread pool settings."
    )
    # The command reports hookpipe's own problems itself, in both output modes, and
    # should still work when an unrelated app fails its checks.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--json",
            action="store_true",
            help="Print the pipeline as JSON instead of text.",
        )
        parser.add_argument(
            "--recover-tasks",
            action="store_true",
            help="Make hookpipe's database-backend tasks that have been RUNNING for longer "
            "than HOOKPIPE['TASK_RUNNER']['ABANDONED_AFTER'] seconds READY again (their "
            "worker died), run RQ's cleanup of abandoned jobs on RQ task backends, print "
            "how many, and exit. For cron or a systemd timer.",
        )
        parser.add_argument(
            "--dead",
            action="store_true",
            help="List the dead task jobs (out of attempts, or unable to run) not replayed "
            "yet, and exit.",
        )
        parser.add_argument(
            "--replay",
            nargs="+",
            metavar="ID",
            help="Enqueue dead task jobs again by id (see --dead), or 'all' of them "
            "(with --handler, all of one handler's); each keeps its request id.",
        )
        parser.add_argument(
            "--handler", metavar="NAME", help="With --dead or --replay all: one handler's."
        )
        switch = parser.add_mutually_exclusive_group()
        switch.add_argument(
            "--disable",
            metavar="NAME",
            help="Switch the plugin NAME off in every process (stored in the database; "
            'applied within HOOKPIPE["SWITCHES"]["CHECK_EVERY"] seconds).',
        )
        switch.add_argument(
            "--enable", metavar="NAME", help="Switch the plugin NAME back on everywhere."
        )
        switch.add_argument(
            "--pause",
            metavar="NAME",
            help="Pause the task handler NAME: its deliveries are still stored, but task "
            "workers park its jobs instead of running them, until --resume.",
        )
        switch.add_argument(
            "--resume",
            metavar="NAME",
            help="Resume the task handler NAME: its parked jobs are enqueued again, oldest "
            "first, and its new jobs run.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["dead"] or options["replay"]:
            self._dead(options["replay"], options["handler"])
            return
        if options["pause"] or options["resume"]:
            self._pause(options["pause"] or options["resume"], bool(options["resume"]))
            return
        if options["disable"] or options["enable"]:
            self._switch(options["disable"] or options["enable"], bool(options["enable"]))
            return
        if options["recover_tasks"]:
            from hookpipe.tasks import rq as task_rq
            from hookpipe.tasks.recovery import database_aliases, recover

            count = recover()
            aliases = ", ".join(database_aliases()) or "none"
            self.stdout.write(
                f"{count} task{'s' if count != 1 else ''} made READY again "
                f"(database task backends: {aliases})."
            )
            if task_rq.rq_aliases():
                handled = task_rq.recover()
                self.stdout.write(
                    f"{handled} abandoned RQ job{'s' if handled != 1 else ''} handed to RQ's "
                    f"cleanup (RQ task backends: {', '.join(task_rq.rq_aliases())})."
                )
            return
        inspection = inspect_pipeline()
        if inspection.data is None:
            count = len(inspection.problems)
            self.stderr.write(
                f"The hookpipe pipeline cannot be built ({count} "
                f"problem{'s' if count != 1 else ''}):"
            )
            for problem in inspection.problems:
                self.stderr.write(self.style.ERROR(_format_problem(problem)))
            ids = ", ".join(sorted({p.id for p in inspection.problems if p.id}))
            if ids:
                raise CommandError(f"HOOKPIPE is not valid ({ids}); see the problems above.")
            raise CommandError("The pipeline cannot be built; see the problem above.")
        for note in inspection.notes:
            self.stderr.write(self.style.WARNING(note))
        if options["json"]:
            self.stdout.write(json.dumps(inspection.data, indent=2))
        else:
            self.stdout.write(render_text(inspection.data), ending="")

    def _dead(self, replay: list[str] | None, handler: str | None) -> None:
        from hookpipe.models import DeadJob
        from hookpipe.tasks import dead

        try:
            waiting = dead.dead_jobs(handler)
            if replay is None:
                self._list_dead(list(waiting[:200]), waiting.count())
                return
            if replay == ["all"]:
                chosen = list(waiting)
            else:
                ids = [_job_id(value) for value in replay]
                chosen = list(DeadJob.objects.filter(pk__in=ids))
                missing = sorted(set(ids) - {job.pk for job in chosen})
                if missing:
                    raise CommandError(
                        f"No dead job with id {', '.join(map(str, missing))} (see --dead)."
                    )
            done = dead.replay(chosen, f"{_user()}@{socket.gethostname()} (manage.py hookpipe)")
        except DatabaseError as exc:
            raise CommandError(f"The dead jobs cannot be read: {db_error_text(exc)}") from exc
        skipped = len(chosen) - len(done)
        self.stdout.write(
            self.style.SUCCESS(f"{len(done)} dead job{'s' if len(done) != 1 else ''} replayed")
            + (f"; {skipped} had been replayed already and were left alone." if skipped else ".")
        )

    def _list_dead(self, jobs: list[Any], total: int) -> None:
        if not jobs:
            self.stdout.write("No dead task jobs.")
            return
        self.stdout.write(f"{total} dead task job{'s' if total != 1 else ''}:")
        for job in jobs:
            self.stdout.write(
                f"  {job.pk:>6}  {job.handler}  request {job.request_id}  "
                f"{job.attempts} attempt{'s' if job.attempts != 1 else ''}  "
                f"{job.died_at:%Y-%m-%d %H:%M:%S}  {job.error[:120]}"
            )
        if total > len(jobs):
            self.stdout.write(f"  ... and {total - len(jobs)} more (the admin lists them all).")
        self.stdout.write("Replay with: manage.py hookpipe --replay ID [ID ...] | all")

    def _switch(self, name: str, enabled: bool) -> None:
        if not apps.is_installed("hookpipe.fleet"):
            raise CommandError(
                'Runtime switches need the fleet app: add "hookpipe.fleet" to INSTALLED_APPS '
                "and run migrate."
            )
        # The fleet's modules define its models: importable only with the app installed.
        from hookpipe.fleet import operations, store, switchable

        built_plan = plan(conf.get_config())
        known = switchable.switchable(built_plan)
        if name not in known:
            raise CommandError(
                f"No configured plugin is named {name!r}. "
                + conf.did_you_mean(name, sorted(known), "Plugins")
            )
        if name in built_plan.config.switches["LOCKED"]:
            raise CommandError(
                f'{name!r} cannot be switched: it is in HOOKPIPE["SWITCHES"]["LOCKED"].'
            )
        who = f"{_user()}@{socket.gethostname()} (manage.py hookpipe)"
        try:
            _row, changed = store.set_enabled(name, enabled, who, via="command")
        except DatabaseError as exc:
            raise CommandError(f"The switch cannot be stored: {db_error_text(exc)}") from exc
        state = "enabled" if enabled else "disabled"
        if not changed:
            self.stdout.write(f"{known[name]} {name!r} is already {state}; nothing changed.")
            return
        # This process (call_command in a shell) applies it at once.
        operations.current().watch.expire()
        every = built_plan.config.switches["CHECK_EVERY"]
        self.stdout.write(
            self.style.SUCCESS(f"{known[name]} {name!r} {state}")
            + f"; every process applies it within {every:g} seconds."
        )
        from hookpipe.tasks import pause

        if not enabled and name in pause.task_handlers(built_plan):
            self.stderr.write(self.style.WARNING(pause.DROPPED_WHEN_OFF))

    def _pause(self, name: str, resuming: bool) -> None:
        from hookpipe.tasks import pause, resume

        built_plan = plan(conf.get_config())
        tasks = pause.task_handlers(built_plan)
        if name not in tasks:
            if name in {p.name for p in built_plan.plugins}:
                raise CommandError(
                    f"{name!r} is not a task handler (RUNNER = 'task'): only a task "
                    "handler's deliveries can be kept while it is paused; --disable switches "
                    "any plugin off."
                )
            raise CommandError(
                f"No configured task handler is named {name!r}. "
                + conf.did_you_mean(name, sorted(tasks), "Task handlers")
            )
        who = f"{_user()}@{socket.gethostname()} (manage.py hookpipe)"
        try:
            if resuming:
                done = resume.resume(name, who)
            else:
                _row, changed = pause.pause(name, who)
        except DatabaseError as exc:
            raise CommandError(f"The pause cannot be stored: {db_error_text(exc)}") from exc
        except Exception as exc:  # a parked job's backend refused it: nothing was resumed
            raise CommandError(
                f"Task handler {name!r} stays paused: a parked job could not be enqueued "
                f"({type(exc).__name__}: {exc})."
            ) from exc
        if resuming:
            jobs = f"{done.jobs} parked job{'' if done.jobs == 1 else 's'} enqueued again"
            if done.pause is None:
                self.stdout.write(f"Task handler {name!r} was not paused; {jobs}.")
            else:
                resumed = self.style.SUCCESS(f"Task handler {name!r} resumed")
                self.stdout.write(f"{resumed}; {jobs}.")
        elif changed:
            self.stdout.write(
                self.style.SUCCESS(f"Task handler {name!r} paused")
                + "; its deliveries are stored, and task workers park its jobs until "
                f"manage.py hookpipe --resume {name}."
            )
        else:
            self.stdout.write(f"Task handler {name!r} is already paused; nothing changed.")


def _job_id(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise CommandError(
            f"--replay takes dead job ids (numbers, see --dead) or 'all', not {value!r}."
        ) from None


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (a container)
        return f"uid {os.getuid()}"


def _format_problem(problem: Any) -> str:
    text = f"{problem.id}: {problem.msg}" if problem.id else str(problem.msg)
    if problem.hint:
        text += f"\n\tHINT: {problem.hint}"
    return text
