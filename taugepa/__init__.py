"""taugepa: measure and improve how well a tool-calling airline agent follows its policy.

Importing the package silences tau2's logging and keeps litellm offline, so that
`import taugepa` prints nothing and opens no network connection; under
PYTHONDONTWRITEBYTECODE it also keeps taugepa's compiled modules in its cache folder
(`taugepa._bytecode`), so that each process does not compile them again.
"""

from taugepa._bytecode import install as _install_bytecode_cache

_install_bytecode_cache()  # first: the modules imported from here on come from the cache

from taugepa._quiet import silence_dependencies  # noqa: E402

silence_dependencies()

__version__ = "0.1.0"
