// Times in the person's own locale, and as relative times ("3 minutes ago", "in 89 days").

const UNITS = [
  ['year', 31_536_000],
  ['month', 2_592_000],
  ['week', 604_800],
  ['day', 86_400],
  ['hour', 3600],
  ['minute', 60],
  ['second', 1],
]

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' })
const absolute = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' })

export function relativeTime (date, nowMs = Date.now()) {
  const seconds = Math.round((date.getTime() - nowMs) / 1000)
  const [unit, size] = UNITS.find(([, unitSeconds]) => Math.abs(seconds) >= unitSeconds) ?? UNITS.at(-1)
  return relative.format(Math.round(seconds / size), unit)
}

/** A <time> with the relative time, then the locale's date and time. */
export function timeElement (iso) {
  const date = new Date(iso)
  const time = document.createElement('time')
  time.dateTime = iso
  time.textContent = `${relativeTime(date)} (${absolute.format(date)})`
  return time
}
