import { h } from '../dom.js'

const main = () => document.getElementById('main')

/**
 * Replaces the page's content and moves focus to its heading, so that keyboard and screen reader
 * users start at the top of what changed.
 */
export function showPage (title, ...content) {
  const heading = h('h1', { tabindex: '-1' }, title)
  main().replaceChildren(heading, ...content)
  document.title = `${title} · Tessera`
  heading.focus()
}

/** The header's right side: who is signed in and the sign-out buttons, or nothing. */
export function setSessionBar (...content) {
  document.getElementById('session-bar').replaceChildren(...content)
}
