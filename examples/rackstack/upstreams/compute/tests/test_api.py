import unittest

from compute.api import boot
from compute.scheduler import fits


class ApiTest(unittest.TestCase):
    def test_boot(self):
        self.assertEqual(boot("web"), "booted web")

    def test_quota(self):
        self.assertTrue(fits(5))


if __name__ == "__main__":
    unittest.main()
