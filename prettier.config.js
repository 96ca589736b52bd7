// Prettier, set to the style the code was written in: no semicolons, single quotes, trailing
// commas, long lines. Of the widths tried on the tree, 190-200 changed the fewest lines (160: a
// third more; Prettier's defaults, 80 wide: nearly every file). Markdown is left alone (.prettierignore).
/** @type {import('prettier').Config} */
export default {
  semi: false,
  singleQuote: true,
  trailingComma: 'all',
  arrowParens: 'always',
  printWidth: 200,
}
