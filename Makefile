# Thin wrappers; the scripts are the source of truth (they need no make).
.PHONY: demo test
demo:
	scripts/demo.sh
test:
	scripts/test.sh
