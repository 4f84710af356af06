"""CapSolver's official Python SDK (PyPI `capsolver`) against the simulator: run by test/conformance.test.ts.

argv: base URL of the simulator, API key, reCAPTCHA sitekey, page URL, base64 image.
Prints one JSON line: the balance answer, the reCAPTCHA solution and the image solution.
"""
import json
import sys

import capsolver


def main() -> None:
    base_url, key, sitekey, page, image = sys.argv[1:6]
    # the SDK reads its host from the module's api_base (or CAPSOLVER_API_BASE)
    capsolver.api_base = base_url
    capsolver.api_key = key
    balance = capsolver.balance()
    recaptcha = capsolver.solve({"type": "ReCaptchaV2TaskProxyLess", "websiteURL": page, "websiteKey": sitekey})
    image_solution = capsolver.solve({"type": "ImageToTextTask", "body": image})
    print(json.dumps({"balance": balance, "recaptcha": recaptcha, "image": image_solution}))


if __name__ == "__main__":
    main()
