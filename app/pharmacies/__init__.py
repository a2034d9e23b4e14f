"""Finding a pharmacy to nominate: `GET /v1/pharmacies`, behind the `PharmacyDirectory` port."""
