"""GP Online: a patient-facing API for GP online services in England."""

__version__ = "0.1.0"
