"""Plugin declarations: names and their environment variables, subconfig resolution and
its check messages, the plugin base classes and the request snapshot."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from hookpipe.plugins import HandlerImplementation, Headers, PluginConfig, RequestSnapshot, Setting
from hookpipe.plugins.planning import build_plugins, plan_plugins
from hookpipe.plugins.subconfig import REDACTED, env_prefix, resolve
from tests.testapp import plugins as P

T = "tests.testapp.plugins."
TOKEN = {"webhook-store": {"TOKEN": "s3cr3t"}}


def plan(
    handlers: list[Any] = (),  # type: ignore[assignment]
    responders: list[Any] = (),  # type: ignore[assignment]
    given: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
) -> tuple[Any, list[tuple[str, str, str | None]]]:
    specs, problems = plan_plugins(handlers, responders, given or {}, env or {})
    return specs, [(p.id or "", p.msg, p.hint) for p in problems]


def ids(*args: Any, **kwargs: Any) -> list[str]:
    return [i for i, _, _ in plan(*args, **kwargs)[1]]


# ------------------------------------------------------------ names and env


@pytest.mark.parametrize(
    ("name", "prefix"),
    [
        ("webhook-store", "HOOKPIPE_WEBHOOK_STORE_"),
        ("csv", "HOOKPIPE_CSV_"),
        ("events.feed", "HOOKPIPE_EVENTS_FEED_"),
        ("Mixed_Case-2", "HOOKPIPE_MIXED_CASE_2_"),
    ],
)
def test_env_prefix(name: str, prefix: str) -> None:
    assert env_prefix(name) == prefix


def test_a_clean_configuration_plans_without_problems() -> None:
    specs, problems = plan([T + "Recorder", T + "Configured"], [T + "Chunks"], TOKEN)
    assert problems == []
    assert [(s.kind, s.name, s.index) for s in specs] == [
        ("handler", "recorder", 0),
        ("handler", "webhook-store", 1),
        ("responder", "chunks", 0),
    ]
    assert specs[1].label == "HOOKPIPE[\"HANDLERS\"][1] ('webhook-store')"


@pytest.mark.parametrize(
    ("handlers", "responders", "expected", "fragment"),
    [
        ([42], [], "hookpipe.E030", 'HOOKPIPE["HANDLERS"][0] must be a dotted path'),
        ([""], [], "hookpipe.E030", "dotted path"),
        ([T + "Nope"], [], "hookpipe.E031", "cannot import 'tests.testapp.plugins.Nope'"),
        (["nodots"], [], "hookpipe.E031", "nodots"),
        ([T + "Chunks"], [], "hookpipe.E032", "is not a hookpipe.HandlerImplementation"),
        ([], [T + "Recorder"], "hookpipe.E032", "is not a hookpipe.ResponderImplementation"),
        ([T + "AN_INSTANCE"], [], "hookpipe.E032", "AN_INSTANCE"),
        ([T + "NoName"], [], "hookpipe.E033", "tests.testapp.plugins.NoName does not set 'name'"),
        ([T + "BadName"], [], "hookpipe.E034", "'web hook!'"),
        ([T + "Recorder", T + "SameName"], [], "hookpipe.E035", "already used"),
        ([T + "Recorder"], [T + "Recorder"], "hookpipe.E032", "ResponderImplementation"),
        ([T + "BadSubconfigKey"], [], "hookpipe.E036", "'token'"),
        ([T + "BadSubconfigType"], [], "hookpipe.E036", "WHEN has the type <class 'dict'>"),
        ([T + "BadSubconfigValue"], [], "hookpipe.E036", "TOKEN is str, not a"),
        ([T + "BadDefault"], [], "hookpipe.E036", "default 'ten'"),
        ([T + "Configured"], [], "hookpipe.E038", "HOOKPIPE_WEBHOOK_STORE_TOKEN"),
        ([T + "MissingHandle"], [], "hookpipe.E041", "does not implement handle()"),
        ([T + "AsyncHandle"], [], "hookpipe.E041", "handle() is async def"),
    ],
)
def test_bad_declarations(
    handlers: list[Any], responders: list[Any], expected: str, fragment: str
) -> None:
    _specs, problems = plan(handlers, responders)
    assert [i for i, _, _ in problems] == [expected], problems
    assert fragment in problems[0][1]


def test_names_that_map_to_the_same_variables_clash() -> None:
    [(id_, msg, hint)] = plan([T + "Recorder", T + "SameEnvName"])[1]
    assert id_ == "hookpipe.E035"
    assert "'Recorder'" in msg
    assert "HOOKPIPE_RECORDER_" in msg
    assert hint is not None
    assert "upper-cased" in hint


def test_two_plugins_sharing_one_variable_name_clash() -> None:
    [(id_, msg, _)] = plan([T + "PrefixOverlapA", T + "PrefixOverlapB"])[1]
    assert id_ == "hookpipe.E040"
    assert "HOOKPIPE_STORE_KEY_ID would configure both 'store' and 'store-key'" in msg


def test_a_missing_name_suggests_one() -> None:
    [(_, _, hint)] = plan([T + "NoName"])[1]
    assert hint is not None
    assert 'name = "no-name"' in hint


def test_a_bad_name_says_how_names_map() -> None:
    [(_, _, hint)] = plan([T + "BadName"])[1]
    assert hint is not None
    assert "'webhook-store' -> HOOKPIPE_WEBHOOK_STORE_<KEY>" in hint


def test_settings_for_an_unknown_plugin_are_a_warning() -> None:
    [(id_, msg, hint)] = plan([T + "Recorder"], given={"recoder": {}})[1]
    assert id_ == "hookpipe.W030"
    assert "'recoder'" in msg
    assert hint == "Configured names: recorder."


def test_unknown_subconfig_key_in_settings() -> None:
    given = {"webhook-store": {"TOKEN": "x", "BATHC": 3}}
    [(id_, msg, hint)] = plan([T + "Configured"], given=given)[1]
    assert id_ == "hookpipe.E037"
    assert "'BATHC'" in msg
    assert hint == "Declared keys: TOKEN, BATCH, RATIO, ENABLED, TAGS."


def test_plugin_settings_must_be_a_dict() -> None:
    assert ids([T + "Configured"], given={"webhook-store": "x"}) == ["hookpipe.E037"]


def test_every_problem_is_reported_at_once() -> None:
    found = ids([T + "NoName", T + "Nope", T + "Configured"], [T + "Recorder"])
    assert sorted(found) == ["hookpipe.E031", "hookpipe.E032", "hookpipe.E033", "hookpipe.E038"]


# ------------------------------------------------------------------ subconfig


SUBCONFIG = P.Configured.subconfig


def test_values_come_from_settings_then_env_then_defaults() -> None:
    config, problems = resolve(
        "webhook-store",
        SUBCONFIG,
        {"TOKEN": "from-settings", "BATCH": 3},
        {
            "HOOKPIPE_WEBHOOK_STORE_TOKEN": "from-env",
            "HOOKPIPE_WEBHOOK_STORE_RATIO": "0.25",
            "HOOKPIPE_WEBHOOK_STORE_ENABLED": "off",
            "HOOKPIPE_WEBHOOK_STORE_TAGS": "x,y",
        },
    )
    assert problems == []
    assert dict(config) == {
        "TOKEN": "from-settings",
        "BATCH": 3,
        "RATIO": 0.25,
        "ENABLED": False,
        "TAGS": ["x", "y"],
    }
    assert config.sources == {
        "TOKEN": "settings",
        "BATCH": "settings",
        "RATIO": "env HOOKPIPE_WEBHOOK_STORE_RATIO",
        "ENABLED": "env HOOKPIPE_WEBHOOK_STORE_ENABLED",
        "TAGS": "env HOOKPIPE_WEBHOOK_STORE_TAGS",
    }


def test_defaults_fill_the_rest() -> None:
    config, problems = resolve(
        "webhook-store", SUBCONFIG, {}, {"HOOKPIPE_WEBHOOK_STORE_TOKEN": "t"}
    )
    assert problems == []
    assert config.BATCH == 10
    assert config.RATIO == 0.5
    assert config.ENABLED is True
    assert config.sources["BATCH"] == "default"


@pytest.mark.parametrize(
    ("variable", "raw", "fragment"),
    [
        ("BATCH", "ten", "HOOKPIPE_WEBHOOK_STORE_BATCH='ten' cannot be read as int"),
        ("RATIO", "half", "cannot be read as float"),
        ("ENABLED", "maybe", "cannot be read as bool"),
        ("TOKEN", "", None),  # an empty string is a string
    ],
)
def test_uncastable_environment_values(variable: str, raw: str, fragment: str | None) -> None:
    env = {"HOOKPIPE_WEBHOOK_STORE_TOKEN": "t", f"HOOKPIPE_WEBHOOK_STORE_{variable}": raw}
    _, problems = resolve("webhook-store", SUBCONFIG, {}, env)
    if fragment is None:
        assert problems == []
    else:
        [(id_, key, msg)] = problems
        assert (id_, key) == ("hookpipe.E039", variable)
        assert fragment in msg


def test_a_secret_is_never_shown_in_a_problem() -> None:
    _, problems = resolve("webhook-store", SUBCONFIG, {"TOKEN": 1234}, {})
    [(id_, _, msg)] = problems
    assert id_ == "hookpipe.E039"
    assert "must be str, not int (********)" in msg
    assert "1234" not in msg


@pytest.mark.parametrize(
    ("key", "value", "ok"),
    [
        ("BATCH", 3, True),
        ("BATCH", True, False),
        ("BATCH", "3", False),  # settings hold Python values: no parsing
        ("RATIO", 1, True),
        ("TAGS", ("a", "b"), True),
        ("ENABLED", 0, False),
        ("BATCH", None, True),
    ],
)
def test_settings_values_must_have_the_declared_type(key: str, value: Any, ok: bool) -> None:
    _, problems = resolve("webhook-store", SUBCONFIG, {"TOKEN": "t", key: value}, {})
    assert (problems == []) is ok


def test_check_messages_name_plugin_and_key() -> None:
    env = {"HOOKPIPE_WEBHOOK_STORE_BATCH": "many"}
    _, problems = plan([T + "Configured"], env=env)
    assert sorted(i for i, _, _ in problems) == ["hookpipe.E038", "hookpipe.E039"]
    missing = next(p for p in problems if p[0] == "hookpipe.E038")
    assert missing[1].startswith(
        "HOOKPIPE[\"HANDLERS\"][0] ('webhook-store', tests.testapp.plugins.Configured)"
    )
    assert "'webhook-store' needs a value for TOKEN" in missing[1]
    assert missing[2] == "TOKEN: str, the shared secret"


def test_config_is_frozen_and_redacts_secrets() -> None:
    config = PluginConfig({"TOKEN": "s3cr3t", "BATCH": 3}, secret=["TOKEN"])
    assert config.TOKEN == config["TOKEN"] == "s3cr3t"
    assert config.redacted() == {"TOKEN": REDACTED, "BATCH": 3}
    assert "s3cr3t" not in repr(config)
    with pytest.raises(AttributeError, match="read-only"):
        config.TOKEN = "x"
    with pytest.raises(TypeError):
        config["TOKEN"] = "x"  # type: ignore[index]
    with pytest.raises(AttributeError, match="no 'NOPE'"):
        _ = config.NOPE
    assert pickle.loads(pickle.dumps(config)) == config


def test_an_unset_secret_is_shown_as_unset() -> None:
    assert PluginConfig({"TOKEN": ""}, secret=["TOKEN"]).redacted() == {"TOKEN": ""}


# --------------------------------------------------------- the base classes


def test_instantiating_a_plugin_without_a_name_fails_naming_the_class() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"tests\.testapp\.plugins\.NoName must set"):
        P.NoName()


def test_build_gives_each_plugin_its_config() -> None:
    specs, _ = plan([T + "Configured"], given=TOKEN)
    [plugin] = build_plugins(specs)
    assert isinstance(plugin, HandlerImplementation)
    assert plugin.config.TOKEN == "s3cr3t"
    assert "s3cr3t" not in repr(plugin)


def test_a_constructor_that_raises_is_a_build_error() -> None:
    specs, problems = plan([T + "ConstructorRaises"])
    assert problems == []
    with pytest.raises(ImproperlyConfigured, match="raised RuntimeError: cannot start"):
        build_plugins(specs)


# ---------------------------------------------------------------- snapshot


def test_snapshot_copies_the_request_and_pickles() -> None:
    request = RequestFactory().post(
        "/webhooks/in?b=2&a=1&b=3",
        data=b'{"x": 1}',
        content_type="application/json",
        HTTP_X_SIGNATURE="abc",
        REMOTE_ADDR="10.0.0.7",
    )
    snapshot = RequestSnapshot.from_request(request, request.body, "f" * 32)
    assert snapshot.method == "POST"
    assert snapshot.path == "/webhooks/in"
    assert snapshot.full_path == "/webhooks/in?b=2&a=1&b=3"
    assert snapshot.query == (("b", "2"), ("b", "3"), ("a", "1"))
    assert snapshot.param("b") == "3"
    assert snapshot.param("c", "-") == "-"
    assert snapshot.headers["x-signature"] == snapshot.headers["X-Signature"] == "abc"
    assert "content-type" in snapshot.headers
    assert snapshot.json() == {"x": 1}
    assert (snapshot.remote_addr, snapshot.scheme, snapshot.user_id) == ("10.0.0.7", "http", None)
    assert snapshot.request_id == "f" * 32
    copy = pickle.loads(pickle.dumps(snapshot))
    assert copy == snapshot
    with pytest.raises(AttributeError):
        snapshot.path = "/other"  # type: ignore[misc]


@pytest.mark.django_db
def test_snapshot_has_the_user_id() -> None:
    from django.contrib.auth.models import AnonymousUser, User

    user = User.objects.create_user("ann")
    request = RequestFactory().get("/")
    request.user = user
    assert RequestSnapshot.from_request(request, b"", "x").user_id == user.pk
    request.user = AnonymousUser()
    assert RequestSnapshot.from_request(request, b"", "x").user_id is None


def test_headers_are_a_read_only_case_insensitive_mapping() -> None:
    headers = Headers([("Content-Type", "text/plain"), ("X-A", "1")])
    assert list(headers) == ["Content-Type", "X-A"]
    assert headers.get("content-type") == "text/plain"
    assert len(headers) == 2
    assert hash(headers) == hash(Headers(list(headers.items())))
    with pytest.raises(TypeError):
        headers["X-A"] = "2"  # type: ignore[index]


def test_setting_knows_whether_it_is_required() -> None:
    assert Setting(str).required
    assert not Setting(int, default=None).required
