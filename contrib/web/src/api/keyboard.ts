/**
 * Enter in a text field submits its form. Vant's fields cancel the browser's implicit
 * submission outside a `van-form`, so forms built on plain `<form>` wire it back with
 * `@keydown.enter="enterSubmits(submit)($event)"`-style handlers made here.
 */
export function enterSubmits(submit: () => unknown): (event: KeyboardEvent) => void {
  return (event) => {
    const target = event.target
    if (!(target instanceof HTMLInputElement) || ['checkbox', 'radio', 'file', 'button', 'submit'].includes(target.type)) return
    event.preventDefault()
    void submit()
  }
}
