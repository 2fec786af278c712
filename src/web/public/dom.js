// Elements are built with createElement and textContent only: no innerHTML, so a token name or a
// user agent is always text, never markup, and nothing here needs an inline script or style.

let lastId = 0

/** A unique id for a label's `for` and an `aria-describedby`. */
export const uniqueId = (name) => `${name}-${++lastId}`

/** h('button', { type: 'button', onclick }, 'Text'): attributes as given, on* as listeners. */
export function h (tag, attributes = {}, ...children) {
  const element = document.createElement(tag)
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value)
    else element.setAttribute(name, value === true ? '' : String(value))
  }
  element.append(...children.flat().filter((child) => child !== undefined && child !== null && child !== false))
  return element
}

/** A labelled input, with an optional hint read out with it. */
export function field ({ label, name, type = 'text', hint, ...attributes }) {
  const id = uniqueId(name)
  const hintId = hint ? `${id}-hint` : undefined
  const control = h('input', { id, name, type, 'aria-describedby': hintId, ...attributes })
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
    control)
}

/** A labelled checkbox: the box, then its label. */
export function checkbox ({ label, name, value, checked, hint }) {
  const id = uniqueId(name)
  return h('div', { class: 'check' },
    h('input', { type: 'checkbox', id, name, value, checked }),
    h('label', { for: id }, label, hint ? h('span', { class: 'hint' }, hint) : null))
}

/**
 * Where a form's outcome is announced: next to the form, read by screen readers as it changes
 * (aria-live), and showing the server's own `message` for an error.
 */
export function statusRegion () {
  return h('p', { class: 'status', role: 'status', 'aria-live': 'polite' })
}

export function showStatus (region, text, kind = 'ok') {
  region.className = `status ${kind}`
  region.textContent = text
}

export function showError (region, error) {
  const details = (error.details ?? []).map((detail) => `${detail.path.replace(/^\//, '') || 'body'}: ${detail.message}`)
  showStatus(region, [error.message ?? String(error), ...details].join(' · '), 'error')
}

export function clearStatus (region) {
  region.className = 'status'
  region.textContent = ''
}

/**
 * Runs `action` once at a time for a button or form, and shows its outcome in `region`: the
 * text it returns, or the error's message. The control stays focusable (aria-disabled, not
 * disabled), so keyboard focus is never thrown back to the top of the page.
 */
export async function run (region, control, action) {
  if (control.getAttribute('aria-disabled') === 'true') return
  control.setAttribute('aria-disabled', 'true')
  clearStatus(region)
  try {
    const text = await action()
    if (typeof text === 'string') showStatus(region, text)
  } catch (error) {
    showError(region, error)
  } finally {
    control.removeAttribute('aria-disabled')
  }
}

/** A form whose submit runs `onSubmit(formData, form)`; what it returns is shown as its outcome. */
export function form ({ title, fields, submit, onSubmit, extra, headingLevel = 'h2' }) {
  const region = statusRegion()
  const element = h('form', { class: 'card' },
    title ? h(headingLevel, {}, title) : null,
    ...fields,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, submit), extra),
    region)
  element.addEventListener('submit', (event) => {
    event.preventDefault()
    run(region, element, () => onSubmit(new FormData(element), element))
  })
  return element
}

/**
 * A modal dialog (focus is kept inside it, Escape closes it); it is removed from the page when
 * closed, so a secret shown in it does not stay in the document.
 */
export function openDialog ({ title, content, onClose }) {
  const titleId = uniqueId('dialog-title')
  const dialog = h('dialog', { 'aria-labelledby': titleId }, h('h2', { id: titleId }, title), ...content)
  dialog.addEventListener('close', () => {
    dialog.remove()
    onClose?.(dialog.returnValue)
  })
  document.body.append(dialog)
  dialog.showModal()
  return dialog
}

/** Asks before something that cannot be undone; resolves true only for the confirming button. */
export function confirmAction ({ title, text, confirm }) {
  return new Promise((resolve) => {
    const dialog = openDialog({
      title,
      content: [
        h('p', {}, text),
        h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'secondary', autofocus: true, onclick: () => dialog.close('cancel') }, 'Cancel'),
          h('button', { type: 'button', class: 'danger', onclick: () => dialog.close('confirm') }, confirm)),
      ],
      onClose: (value) => resolve(value === 'confirm'),
    })
  })
}

/** A definition list from [term, description] pairs; null descriptions are left out. */
export function facts (pairs) {
  return h('dl', { class: 'facts' },
    pairs.filter(([, value]) => value !== null && value !== undefined)
      .flatMap(([term, value]) => [h('dt', {}, term), h('dd', {}, value)]))
}
