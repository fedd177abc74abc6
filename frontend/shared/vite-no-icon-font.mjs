// Vant's icon stylesheet embeds its icon font (a data: URL, with a fallback on a CDN). The apps use no web
// fonts and their CSP allows no font source but 'self', so the @font-face and its glyph rules are dropped at
// build time; the few icons Vant draws itself (cell arrows, nav-bar back, close) are CSS shapes in theme.css.
export function noIconFont() {
  return {
    name: 'patient-api:no-icon-font',
    enforce: 'pre',
    transform(code, id) {
      if (!/[\\/]vant[\\/]es[\\/]icon[\\/]index\.css$/.test(id)) return null
      const css = code
        .replace(/@font-face\s*\{[^}]*\}/g, '')
        .replace(/\.van-icon-[\w-]+:before\s*\{\s*content:\s*"\\[0-9a-f]+"\s*\}/g, '') // glyphs of the dropped font
      return { code: css, map: null }
    },
  }
}
