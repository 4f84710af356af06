"""CaptchaAI's official Python SDK (PyPI `captchaai`) against the simulator: run by test/conformance.test.ts.

argv: base URL of the simulator, API key, reCAPTCHA sitekey, page URL, base64 image.
Prints one JSON line: the thread plan, the reCAPTCHA token and its task id, the image text and its task id.
"""
import json
import sys

from captchaai import CaptchaAI


def main() -> None:
    base_url, key, sitekey, page, image = sys.argv[1:6]
    # the SDK takes its host as an option; constructing it calls res.php?action=threadsinfo
    solver = CaptchaAI(api_key=key, base_url=base_url)
    try:
        threads = solver.threads_info()
        recaptcha = solver.recaptcha_v2(sitekey, page)
        image_result = solver.normal(image)
        print(json.dumps({
            "threads": threads,
            "recaptcha": {"token": recaptcha.solution, "id": recaptcha.task_id},
            "image": {"text": image_result.solution, "id": image_result.task_id},
        }))
    finally:
        solver.close()


if __name__ == "__main__":
    main()
