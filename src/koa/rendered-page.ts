/** A page `views()` rendered: its HTML for this response, and what the response cache stores of it. */
export interface RenderedPage {
  html: string;
  /** The page with its holes as placeholders, when holes were collected (the page will be stored). */
  stored?: { html: string; holes: string[] };
  /** The tags of every fragment rendered into it. */
  tags: string[];
  /** The digest of the page's template and those it depends on. */
  digest: string;
}
