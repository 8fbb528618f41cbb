import unittest

from clientlib.client import request


class ClientTest(unittest.TestCase):
    def test_request(self):
        self.assertEqual(request("/servers")["path"], "/servers")
        self.assertGreater(request("/servers")["timeout"], 0)


if __name__ == "__main__":
    unittest.main()
