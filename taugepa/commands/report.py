def register(subparsers):  # placeholder until report lands
    pass
