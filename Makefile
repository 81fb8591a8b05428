.PHONY: run test lint services services-stop bench

run:  ## set up and serve on http://127.0.0.1:8000 with a seeded admin (admin / 123456)
	scripts/run.sh

test:  ## set up, start PostgreSQL/Redis/MongoDB-wire/S3 and run the whole test suite (browser tests included)
	scripts/browser.sh
	scripts/test.sh

lint:
	scripts/bootstrap.sh
	.venv/bin/ruff format --check . && .venv/bin/ruff check . && .venv/bin/mypy .

services:
	scripts/services.sh start

services-stop:
	scripts/services.sh stop
