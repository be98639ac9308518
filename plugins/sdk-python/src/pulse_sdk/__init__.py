"""The Pulse plugin SDK for Python: indicators that give the same bits as the Rust and
JavaScript SDKs' (``pulse_sdk.indicators``), the functions they rest on (``pulse_sdk.math``),
and the host's interface as a plugin sees it (``pulse_sdk.host``)."""

__version__ = "0.4.0"
