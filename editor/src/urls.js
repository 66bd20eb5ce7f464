// Mail readers follow web and mail addresses only: a javascript: or data: link in a
// newsletter is an attack, and a relative one leads nowhere outside this site.
const ALLOWED = /^(https?:\/\/[^\s/?#]+[^\s]*|mailto:[^\s]+)$/i;

export function allowedUrl(url) {
  return ALLOWED.test(String(url || "").trim());
}
