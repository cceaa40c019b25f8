// The playground page: two CodeMirror editors, and every answer of /api/run shown as text.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const DEBOUNCE_MS = 300;
  let completionItems = [];
  let runNumber = 0;
  let timer = null;
  let fileName = "mapping.yaml";

  async function api(path, body) {
    const init = body === undefined ? {} : {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    };
    const response = await fetch(path, init);
    return { ok: response.ok, data: await response.json() };
  }

  function completionSource(context) {
    const word = context.matchBefore(/[\w$.\[\]]+/);
    if (!word || (word.from === word.to && !context.explicit)) return null;
    return {
      from: word.from,
      options: completionItems.map((c) => ({ label: c.label, type: c.type, detail: c.detail, info: c.info || undefined })),
      validFor: /^[\w$.\[\]]*$/,
    };
  }

  const onChange = CM.EditorView.updateListener.of((update) => { if (update.docChanged) schedule(); });
  const mappingEditor = new CM.EditorView({
    parent: $("mapping-editor"),
    extensions: [CM.basicSetup, CM.yaml(), CM.lintGutter(), CM.autocompletion({ override: [completionSource] }), onChange],
  });
  const inputEditor = new CM.EditorView({ parent: $("input-editor"), extensions: [CM.basicSetup, CM.json(), onChange] });
  $("settings").addEventListener("input", schedule);

  function setText(view, text) {
    view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
  }

  function schedule() {
    clearTimeout(timer);
    $("status").textContent = "…";
    timer = setTimeout(run, DEBOUNCE_MS);
  }

  function settings() {
    const text = $("settings").value.trim();
    if (!text) return {};
    try { return JSON.parse(text); } catch (e) { return null; }
  }

  function fill(element, rows, render, emptyText) {
    element.replaceChildren();
    for (const row of rows) element.appendChild(render(row));
    if (!rows.length) {
      const li = document.createElement("li");
      li.className = "empty";
      li.textContent = emptyText;
      element.appendChild(li);
    }
  }

  function item(text, className) {
    const li = document.createElement("li");
    li.textContent = text;
    if (className) li.className = className;
    return li;
  }

  function markers(rows) {
    const doc = mappingEditor.state.doc;
    const out = [];
    for (const d of rows) {
      if (d.line < 1 || d.line > doc.lines) continue;
      const line = doc.line(d.line);
      const from = Math.min(line.from + Math.max(d.column - 1, 0), line.to);
      const rest = doc.sliceString(from, line.to);
      const word = /^[^\s:,\]}]+/.exec(rest);
      const to = Math.min(from + (word ? word[0].length : 1), doc.length);
      out.push({ from, to: Math.max(to, from), severity: d.severity === "warning" ? "warning" : "error", message: `${d.code} ${d.message}` });
    }
    mappingEditor.dispatch(CM.setDiagnostics(mappingEditor.state, out));
  }

  function goToLine(n) {
    const doc = mappingEditor.state.doc;
    if (n < 1 || n > doc.lines) return;
    const line = doc.line(n);
    mappingEditor.dispatch({ selection: { anchor: line.from, head: line.to }, scrollIntoView: true });
    mappingEditor.focus();
  }

  function show(answer) {
    fill($("diagnostics"), answer.diagnostics, (d) => item(d.text, d.severity), "no problems");
    markers(answer.diagnostics);
    $("actions").textContent = answer.actions.length
      ? answer.actions.map((a) => `// document ${a.document}, rule ${a.rule}\n` + JSON.stringify({ action: a.action, payload: a.payload }, null, 2)).join("\n")
      : "(no actions)";
    $("account").textContent = answer.account ? `with ${answer.account}` : "";
    const requests = $("requests");
    requests.replaceChildren();
    for (const r of answer.requests) {
      const pre = document.createElement("pre");
      pre.textContent = r.text;
      requests.appendChild(pre);
    }
    for (const r of answer.rejected) {
      const pre = document.createElement("pre");
      pre.textContent = `not sent: action ${r.index} (${r.action}): ${r.reason}`;
      requests.appendChild(pre);
    }
    if (!requests.children.length) requests.textContent = "(no requests)";
    const skipped = [...answer.skipped.map((s) => item(s.text)), ...answer.errors.map((e) => item(e, "error"))];
    fill($("skipped"), skipped, (li) => li, "nothing skipped, no errors");
    fill($("explain"), answer.explain, (e) => {
      const li = document.createElement("li");
      const at = document.createElement("span");
      at.className = "at";
      at.textContent = `L${e.line} ${e.rule}`;
      li.append(at, e.text);
      li.dataset.line = e.line;
      li.addEventListener("click", () => goToLine(e.line));
      return li;
    }, "no trace (no input, or the mapping has errors)");
    settingsForm(answer.settings);
  }

  // One control per setting of the mapping (a checkbox, a menu of the allowed values, or
  // JSON text); each writes its override into the JSON box, which is what is sent.
  let formFor = "";
  function settingsForm(decls) {
    const key = JSON.stringify(decls);
    if (key === formFor) return;
    formFor = key;
    const form = $("settings-form");
    form.replaceChildren();
    const current = settings() || {};
    for (const d of decls) {
      const value = d.name in current ? current[d.name] : d.default;
      const label = document.createElement("label");
      label.title = `${d.type}, default ${JSON.stringify(d.default)}`;
      let control;
      if (d.type === "boolean") {
        control = document.createElement("input");
        control.type = "checkbox";
        control.checked = Boolean(value);
      } else if (d.enum) {
        control = document.createElement("select");
        for (const v of d.enum) control.add(new Option(String(v), JSON.stringify(v)));
        control.value = JSON.stringify(value);
      } else {
        control = document.createElement("input");
        control.type = "text";
        control.value = JSON.stringify(value);
      }
      control.dataset.setting = d.name;
      control.addEventListener("change", () => {
        let v;
        if (control.type === "checkbox") v = control.checked;
        else { try { v = JSON.parse(control.value); } catch (e) { v = control.value; } }
        const overrides = settings() || {};
        if (JSON.stringify(v) === JSON.stringify(d.default)) delete overrides[d.name];
        else overrides[d.name] = v;
        $("settings").value = JSON.stringify(overrides);
        schedule();
      });
      label.append(d.name, control);
      form.appendChild(label);
    }
  }

  async function run() {
    const mine = ++runNumber;
    const chosen = settings();
    if (chosen === null || typeof chosen !== "object" || Array.isArray(chosen)) {
      $("status").textContent = "settings: not a JSON object";
      return;
    }
    const mapping = mappingEditor.state.doc.toString();
    const [answer, complete] = await Promise.all([
      api("/api/run", { mapping, file: fileName, input: inputEditor.state.doc.toString(), settings: chosen }),
      api("/api/complete", { mapping }),
    ]);
    if (mine !== runNumber) return;
    if (complete.ok) completionItems = complete.data.items;
    if (!answer.ok) { $("status").textContent = answer.data.error || "error"; return; }
    show(answer.data);
    const d = answer.data;
    $("status").textContent = `${d.diagnostics.length} problem(s), ${d.actions.length} action(s), ${d.requests.length} request(s)`;
  }

  async function pickMapping(name) {
    if (!name) return;
    const { ok, data } = await api(`/api/mapping?name=${encodeURIComponent(name)}`);
    if (!ok) return;
    fileName = data.file;
    $("file-name").textContent = data.file;
    $("save-name").value = data.file;
    setText(mappingEditor, data.text);
  }

  async function pickSample(id) {
    if (!id) return;
    const { ok, data } = await api(`/api/sample?id=${encodeURIComponent(id)}`);
    if (!ok) return;
    if (data.mapping && data.mapping !== $("mapping-select").value) {
      $("mapping-select").value = data.mapping;
      await pickMapping(data.mapping);
    }
    $("settings").value = JSON.stringify(data.settings || {});
    formFor = "";
    setText(inputEditor, data.input);
  }

  async function save(withCase) {
    const body = { name: $("save-name").value, mapping: mappingEditor.state.doc.toString() };
    if (withCase) Object.assign(body, { case: $("case-name").value, input: inputEditor.state.doc.toString(), settings: settings() || {} });
    const { ok, data } = await api("/api/save", body);
    $("save-result").textContent = ok ? `saved: ${data.saved.join(", ")}` : `not saved: ${data.error}${data.problems ? " — " + data.problems.join("; ") : ""}`;
  }

  async function start() {
    const { data } = await api("/api/catalog");
    for (const m of data.mappings) $("mapping-select").add(new Option(`${m.name} (${m.file})`, m.name));
    for (const s of data.samples) $("sample-select").add(new Option(s.label, s.id));
    $("mapping-select").addEventListener("change", (e) => pickMapping(e.target.value));
    $("sample-select").addEventListener("change", (e) => pickSample(e.target.value));
    $("save-mapping").addEventListener("click", () => save(false));
    $("save-test").addEventListener("click", () => save(true));
    $("save-result").textContent = `saves into ${data.save_dir}`;
    $("status").textContent = "ready";
    document.body.dataset.ready = "true";
  }

  window.playground = { mappingEditor, inputEditor };
  start();
})();
