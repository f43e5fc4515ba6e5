"""`synchub init` and `synchub db upgrade`: the data directory, the database and the
secret key."""

from __future__ import annotations

from synchub.cli.shared import err, out, seal_stored, services
from synchub.cli.typer_app import typer_app
from synchub.core.errors import NoSecretKey

db_app = typer_app(help="The database.")


def init() -> None:
    """Create the data directory (0700), the database and the secret key (0600), or
    tighten older ones. Safe to run again; refuses to make a new key while the
    database holds secrets sealed with one (restore it instead)."""
    from synchub.services.datadir import tighten_modes
    from synchub.store.crypto import create_key, read_key
    from synchub.store.files import private_dir
    from synchub.store.migrate import upgrade

    with services(schema=False) as svc:
        settings = svc.settings
        private_dir(settings.home)
        upgrade(svc.db)
        if not settings.secret_key.get_secret_value() and read_key(settings.key_path) is None:
            if svc.any_sealed():
                raise NoSecretKey(
                    f"The database holds secrets sealed with a key that is not at "
                    f"{settings.key_path}: restore that file from a backup (mode 0600) or "
                    "set SYNCHUB_SECRET_KEY. A new key would not open them: if the key is "
                    "lost for good, `synchub secrets forget` drops them, then run "
                    "`synchub init` again and enter them again"
                )
            create_key(settings.key_path)
        seal_stored(svc)
        for line in tighten_modes(settings):
            err.print(line, markup=False)
        if (problem := svc.secrets.problem()) is not None:
            err.print(f"warning: {problem}", markup=False)
        out.print(f"synchub is ready in [bold]{settings.home}[/]")
        if (secret := svc.tokens.create_first_admin()) is not None:
            err.print("the first admin token for the REST API; it is shown only now:")
            out.print(secret, markup=False)
            if svc.settings.console:
                where = f"http://{svc.settings.host}:{svc.settings.port}/"
                err.print(f"sign in to the console at {where} with it", markup=False)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations."""
    from synchub.store.migrate import current_revision, upgrade

    with services(schema=False) as svc:
        upgrade(svc.db)
        out.print(f"database at revision {current_revision(svc.db)}")
