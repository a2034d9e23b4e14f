"""A GP Connect patient-facing provider stand-in, run as its own process.

It serves NHS England's four patient-facing APIs (appointments management, access
record, user permissions, prescriptions management) at the paths of their official
server URLs, `/gp-connect/patient-facing/<api>/…`, plus the platform's token exchange
(`POST /oauth2/token`), over the sandbox GP systems' data, reached through the port
only. It is what the service's GP Connect adapter talks to in dev, tests and benchmarks.

It enforces what the platform and providers enforce: the patient's bearer token (or
any, with `--open-access`, as the platform's sandbox), `X-Request-ID` and its
de-duplication, and the official OpenAPI documents (`specifications/`) on every
request and response (`specification.py`, reusable by a test's fake provider). FHIR is
built and read with `fhir.resources`, independently of the adapter's own FHIR code.

    python -m app.standin --port 8010 [--practice A81001 …] [--open-access]
"""
