print("reflexd: not yet wired")
