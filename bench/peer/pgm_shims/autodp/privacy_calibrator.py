"""Stand-in: see ../README.md. MST and AIM never call it."""


def ana_gaussian_mech(*args, **kwargs):
    raise NotImplementedError("autodp is not installed; MST and AIM do not need it")
