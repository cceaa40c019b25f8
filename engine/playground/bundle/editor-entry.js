// The one entry point bundled into ../static/codemirror.min.js (see ../static/SOURCES.md).
export { EditorView, basicSetup } from "codemirror";
export { EditorState, Compartment } from "@codemirror/state";
export { keymap } from "@codemirror/view";
export { yaml } from "@codemirror/lang-yaml";
export { json } from "@codemirror/lang-json";
export { linter, lintGutter, setDiagnostics } from "@codemirror/lint";
export { autocompletion } from "@codemirror/autocomplete";
