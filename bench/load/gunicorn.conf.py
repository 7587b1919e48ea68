"""gunicorn settings of ``make load`` (bench/load/run.py gives the bind address, the
worker count and the log file on the command line)."""

# Sync workers: a request's time is CPU (Python, and PostgreSQL on the same cores),
# which threads of one process would only share under the GIL; run.py starts two per
# core, so that one worker's database round trips leave the core to another.
worker_class = "sync"
# A worker's first dashboard of a new stamp draws its charts: seconds on a busy machine.
timeout = 120
# Load the app once in the master, then fork: workers start with it imported.
preload_app = True
# No control socket in the home directory, where another gunicorn may have its own.
control_socket_disable = True


def when_ready(server: object) -> None:
    """Import every view (DRF, matplotlib, the report renderers...) in the master,
    before the workers fork: otherwise each worker imports them on its first
    request, tens of seconds on a loaded machine, inside the measured minute."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - importing is the point
