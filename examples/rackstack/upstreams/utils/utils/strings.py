def slug(s):
    return s.strip().lower().replace(" ", "-")
