AUDIT = []


def audit(action, name):
    AUDIT.append((action, name))


def boot(name):
    return f"booted {name}"
