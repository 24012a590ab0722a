"""taugepa: measure and improve how well a tool-calling airline agent follows its policy.

Importing the package silences tau2's logging and keeps litellm offline, so that
`import taugepa` prints nothing and opens no network connection.
"""

from taugepa._quiet import silence_dependencies

silence_dependencies()

__version__ = "0.1.0"
