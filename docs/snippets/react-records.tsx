/**
 * The React guide's settings kept as strings, one record each, with `useRecord`.
 */
// #region records
import { useRecord } from 'pushsync/react'

const THEMES = ['light', 'dark', 'sepia']

export function ThemePicker() {
  // Like useState: the value (undefined until set) and a setter that writes locally at once.
  const [theme = 'light', setTheme] = useRecord('settings', 'theme')
  return (
    <fieldset>
      <legend>Theme</legend>
      {THEMES.map((name) => (
        <button key={name} type="button" aria-pressed={theme === name} onClick={() => setTheme(name)}>
          {name}
        </button>
      ))}
    </fieldset>
  )
}

export function LanguagePicker() {
  const [language = 'en', setLanguage] = useRecord('settings', 'language')
  return (
    <label>
      Language{' '}
      <select value={language} onChange={(event) => setLanguage(event.target.value)}>
        <option value="en">English</option>
        <option value="fr">Français</option>
        <option value="de">Deutsch</option>
      </select>
    </label>
  )
}
// #endregion records
