TIMEOUT = 5


def request(path):
    return {"path": path, "timeout": TIMEOUT}
