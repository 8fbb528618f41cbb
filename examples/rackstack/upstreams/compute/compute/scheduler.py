QUOTA = 10


def fits(requested):
    return requested <= QUOTA


# Cells are sized by operators; see the deployment guide.
MAX_HOSTS = 100
