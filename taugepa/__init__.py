"""taugepa: measure and improve how well a tool-calling airline agent follows its policy.

Importing the package silences tau2's logging and keeps litellm offline, so that
`import taugepa` prints nothing and opens no network connection. It also puts the
start-up finder of `taugepa._imports` in place: under PYTHONDONTWRITEBYTECODE taugepa's
compiled modules are kept in its cache folder, so that each process does not compile them
again, and under pytest the big libraries loaded late skip pytest's assertion rewriter.
"""

from taugepa._imports import install as _install_startup_finder

_install_startup_finder()  # first: it serves the modules imported from here on

from taugepa._quiet import silence_dependencies  # noqa: E402

silence_dependencies()

__version__ = "0.1.0"
