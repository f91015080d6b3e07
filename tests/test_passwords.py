"""One password policy for the CLI, the web and the API: long enough, not too long, not easy to
guess (zxcvbn), not the user's own name."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from tanggap.cli import main
from tests.helpers import PASSWORD
from workflow import commands
from workflow.commands.users import MAX_PASSWORD, password_problem
from workflow.errors import ValidationError


@pytest.mark.parametrize("password", [
    "aaaaaaaaaa", "1234567890", "password12", "qwertyuiop", "budi.santoso", "Budi Santoso",
    "santosobudi", "short", "x" * (MAX_PASSWORD + 1), "kata\x00sandi-panjang",
])
def test_weak_or_unusable_passwords_are_refused(password):
    assert password_problem(password, username="budi.santoso", full_name="Budi Santoso") is not None


@pytest.mark.parametrize("password", ["correct horse battery", "rahasia-sekali", "tanggap-demo",
                                      "Pete langit 7 biru", "x9!kQ2#mVv8@"])
def test_strong_passwords_pass(password):
    assert password_problem(password, username="budi.santoso", full_name="Budi Santoso") is None


def test_create_user_refuses_with_the_reason_on_the_password_field(world):
    with world.services.uow() as uow:
        with pytest.raises(ValidationError) as refused:
            commands.create_user(uow, username="sari.dinas-lh", full_name="Sari", password="Sari.Dinas-LH",
                                 roles=[("coordinator", "DLH")])
    assert set(refused.value.errors) == {"password"}
    assert refused.value.errors["password"].template == "must not be your username or name"


def test_the_cli_refuses_a_huge_password_it_could_never_check(tmp_path):
    env = {"TANGGAP_INSTANCE": str(tmp_path / "instance"), "DATABASE_URL": ""}
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    assert runner.invoke(main, ["seed"], env=env).exit_code == 0
    huge = runner.invoke(main, ["users", "create", "budi", "--name", "Budi", "--role", "auditor",
                                "--password", "p" * 100_000], env=env)
    assert huge.exit_code == 1 and f"at most {MAX_PASSWORD} characters" in huge.output
    weak = runner.invoke(main, ["users", "create", "budi", "--name", "Budi", "--role", "auditor",
                                "--password", "1234567890"], env=env)
    assert weak.exit_code == 1 and "too easy to guess" in weak.output
    ok = runner.invoke(main, ["users", "create", "budi", "--name", "Budi", "--role", "auditor",
                              "--password", "p" * (MAX_PASSWORD - 9) + "Zq8#kLm2x!"[:9]], env=env)
    assert ok.exit_code == 0, ok.output


def test_login_refuses_a_password_over_the_limit_without_hashing_it(world, web, monkeypatch):
    world.dlh
    response = web.post("/login", {"username": "koor.dlh", "password": "p" * (MAX_PASSWORD + 1)})
    assert response.status_code == 400  # the form says what the limit is
    hashed: list[int] = []
    real = world.services.passwords.hasher

    class Counting:
        def verify(self, hash_, password):
            hashed.append(len(password))
            return real.verify(hash_, password)

        def __getattr__(self, name):
            return getattr(real, name)

    monkeypatch.setattr(world.services.passwords, "hasher", Counting())
    result = commands.authenticate(world.services, "koor.dlh", "p" * 100_000)
    assert result.user is None and result.error.code == "bad_login"
    assert hashed and max(hashed) <= MAX_PASSWORD  # the same work as any wrong password, no more


def test_a_hash_made_with_weaker_parameters_is_replaced_at_the_next_login(world):
    from argon2 import PasswordHasher
    from sqlalchemy import select

    from workflow.passwords import Passwords
    from workflow.store.models import User

    weak = Passwords(PasswordHasher(time_cost=1, memory_cost=256, parallelism=1))

    def stored() -> str:
        with world.services.reading() as session:
            return session.scalar(select(User.password_hash).where(User.username == "koor.dlh"))

    def weaken() -> str:
        with world.services.uow() as uow:
            uow.session.scalar(select(User).where(User.username == "koor.dlh")).password_hash = weak.hash(PASSWORD)
            uow.commit()
        return stored()

    world.dlh
    before = weaken()
    assert commands.authenticate(world.services, "koor.dlh", "not the password").user is None
    assert stored() == before  # a wrong password changes nothing
    assert commands.authenticate(world.services, "koor.dlh", PASSWORD).user is not None
    after = stored()
    assert after != before and not world.services.passwords.outdated(after)
    assert world.services.passwords.matches(after, PASSWORD)


def test_production_hashes_use_argon2id_with_the_recommended_parameters():
    from workflow.passwords import Passwords

    stored = Passwords().hash("correct horse battery")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")  # RFC 9106, second choice
    assert Passwords().matches(stored, "correct horse battery")
    assert not Passwords().matches(stored, "correct horse batterY")
    assert not Passwords().matches(None, "")  # an unknown name matches nothing
