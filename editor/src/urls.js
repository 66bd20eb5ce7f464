// Mail readers follow web and mail addresses only: a javascript: or data: link in a
// newsletter is an attack, and a relative one leads nowhere outside this site.
const ALLOWED = /^(https?:\/\/[^\s/?#]+[^\s]*|mailto:[^\s]+)$/i;

export function allowedUrl(url) {
  return ALLOWED.test(String(url || "").trim());
}

export function allowedImageUrl(url) {
  return /^https?:/i.test(String(url || "").trim()) && allowedUrl(url);
}

// A parenthesis or a quote would end the address early in `[text](address)`; encoded, it
// is the same address.
export function markdownAddress(url) {
  return String(url).trim().replace(/[()<>"]/g, (mark) => "%" + mark.charCodeAt(0).toString(16).toUpperCase());
}
