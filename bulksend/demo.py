"""`make demo`: placeholder until the sandbox lands."""

if __name__ == "__main__":
    raise SystemExit("the demo is not built yet")
