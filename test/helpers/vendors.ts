// Types for the vendors' official clients the tests drive (their packages ship none we can import).

/** `@antiadmin/anticaptchaofficial`: one module-level client with a session. */
export interface AntiCaptcha {
  session: { taskId: number };
  setAPIKey(key: string): void;
  shutUp(): void;
  getBalance(): Promise<number>;
  solveRecaptchaV2Proxyless(url: string, key: string): Promise<string>;
  solveImage(body: string): Promise<string>;
  reportCorrectRecaptcha(): Promise<boolean>;
  reportIncorrectImageCaptcha(): Promise<boolean>;
}
