"""Settings: each variable read once, by its field's type, and the README's tables list exactly those."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chatsvc.cli import build_parser
from chatsvc.config import Settings, StartupError
from chatsvc.web.gateway import WebOptions

README = Path(__file__).resolve().parent.parent / "README.md"


def loader_variables() -> set[str]:
    return {*Settings.variables(), *WebOptions.variables()}


def test_every_setting_has_a_variable_and_they_are_all_distinct():
    names = [*Settings.variables(), *WebOptions.variables()]
    assert len(names) == len(set(names))
    assert "CHATSVC_SHUTDOWN_GRACE_SECONDS" in names and "CHATSVC_WEB_ENVOY" in names


def test_the_readme_tables_list_exactly_the_variables_the_loader_reads():
    text = README.read_text(encoding="utf-8")
    in_tables = {name for line in text.splitlines() if line.startswith("|") for name in re.findall(r"CHATSVC_[A-Z_]+", line)}
    anywhere = set(re.findall(r"CHATSVC_[A-Z_]+", text)) - {"CHATSVC_TEST_REDIS_URL", "CHATSVC_TEST_DATABASE_URL"}
    assert loader_variables() - in_tables == set(), "variables missing from the README's tables"
    assert anywhere - loader_variables() == set(), "the README names variables nothing reads"


def test_serve_help_lists_every_variable():
    serve = build_parser()._subparsers._group_actions[0].choices["serve"]
    shown = serve.format_help()
    assert [name for name in loader_variables() if name not in shown] == []


def test_values_are_read_by_their_type():
    settings = Settings.from_env(
        {
            "CHATSVC_MESSAGE_RATE_LIMIT": "7",
            "CHATSVC_TYPING_TIMEOUT_SECONDS": "2.5",
            "CHATSVC_REACTIONS": "🎉, 👍",
            "CHATSVC_PROFANITY_ADD": "blorp, zark",
            "CHATSVC_REDIS_URL": "redis://127.0.0.1:1/0",
            "CHATSVC_SHUTDOWN_GRACE_SECONDS": "0.5",
            "CHATSVC_DATABASE_URL": "postgresql+asyncpg://chat@db/chat",
            "CHATSVC_ACCESS_LOG": "true",
            "CHATSVC_LOG_FORMAT": "JSON",
            "CHATSVC_METRICS_LISTEN": "0.0.0.0:9464",
        }
    )
    assert settings.message_rate_limit == 7
    assert settings.typing_timeout_seconds == 2.5
    assert settings.reactions == ("🎉", "👍")
    assert settings.profanity_extra_words == ["blorp", "zark"]
    assert settings.redis_url == "redis://127.0.0.1:1/0"
    assert settings.shutdown_grace_seconds == 0.5
    assert settings.database_url == "postgresql+psycopg://chat@db/chat", "older driver names still work"
    assert settings.access_log is True and settings.log_format == "json" and settings.metrics_listen == "0.0.0.0:9464"


@pytest.mark.parametrize(("text", "value"), [("1", True), ("yes", True), ("on", True), ("0", False), ("false", False), ("off", False)])
def test_switches_read_the_usual_spellings(text, value):
    assert Settings.from_env({"CHATSVC_ACCESS_LOG": text}).access_log is value


def test_unset_and_empty_variables_keep_the_defaults():
    assert Settings.from_env({"CHATSVC_MESSAGE_RATE_LIMIT": "", "CHATSVC_REDIS_URL": " "}) == Settings.from_env({}) == Settings()


def test_web_options_come_from_their_own_variables():
    options = WebOptions.from_env({"CHATSVC_WEB_LISTEN": "0.0.0.0:9000", "CHATSVC_WEB_ALLOWED_ORIGINS": "https://a.example, *"})
    assert options.listen == "0.0.0.0:9000"
    assert options.allowed_origins == ["https://a.example", "*"]
    assert options.panel_listen == WebOptions().panel_listen and options.envoy is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CHATSVC_MESSAGE_RATE_LIMIT": "five"}, "CHATSVC_MESSAGE_RATE_LIMIT must be an integer, not 'five'"),
        ({"CHATSVC_KEEPALIVE_SECONDS": "soon"}, "CHATSVC_KEEPALIVE_SECONDS must be a number, not 'soon'"),
        ({"CHATSVC_PROFANITY_LANGUAGES": "de, xx"}, "CHATSVC_PROFANITY_LANGUAGES: no word list for xx; choose from de, es, fr"),
        ({"CHATSVC_JWT_PUBLIC_KEY_FILE": "/nonexistent/key.pem"}, "CHATSVC_JWT_PUBLIC_KEY_FILE: cannot read /nonexistent/key.pem"),
        ({"CHATSVC_PROFANITY_FILE": "/nonexistent/words.txt"}, "CHATSVC_PROFANITY_FILE: cannot read /nonexistent/words.txt"),
        ({"CHATSVC_DATABASE_URL": "mysql://db/chat"}, "'mysql://db/chat' is not supported"),
    ],
)
def test_a_value_that_cannot_be_read_is_one_line_naming_the_variable(env, message):
    with pytest.raises(StartupError) as refused:
        Settings.from_env(env)
    assert message in str(refused.value) and "\n" not in str(refused.value)


def test_a_word_file_with_an_unknown_tier_is_refused_at_load(tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("+blorp:awful\n")
    with pytest.raises(StartupError, match="CHATSVC_PROFANITY_FILE: unknown profanity tier 'awful'"):
        Settings.from_env({"CHATSVC_PROFANITY_FILE": str(words)})
