import request from 'supertest';

/** A client that keeps cookies, as a browser does: the CSRF cookie a form page sets goes back with the post. */
export type Browser = ReturnType<typeof request.agent>;

/** Opens `url` and returns the CSRF token its forms carry (the agent now holds the matching cookie). */
export async function formToken(browser: Browser, url: string): Promise<string> {
  const page = await browser.get(url).expect(200);
  const token = /name="_csrf" value="([^"]+)"/.exec(page.text)?.[1];
  if (!token) throw new Error(`no CSRF token in the form at ${url}:\n${page.text}`);
  return token;
}

/** Posts `fields` (and `_csrf`) as a URL-encoded form. */
export function postForm(browser: Browser, url: string, fields: Record<string, string>) {
  return browser.post(url).type('form').send(new URLSearchParams(fields).toString());
}
