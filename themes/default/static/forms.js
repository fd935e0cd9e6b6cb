/* Commission forms: show or hide fields carrying data-show-if and toggle
   `required` for data-required-if, as the form is filled. The grammar is the
   server's (core/forms/expressions.py): literals, true/false/null, field
   names, == != < <= > >= in, not in, and/or/not, parentheses, unary minus,
   [lists]. The server validates in the end; an expression this script
   cannot read leaves its field shown. No eval, no dependencies. */
(function () {
  "use strict";

  var TOKEN = /\s*(?:(\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|([A-Za-z_][A-Za-z0-9_]*)|(==|!=|<=|>=|<|>|\(|\)|\[|\]|,|-))/y;
  var CONSTANTS = { "true": true, "false": false, "null": null, "True": true, "False": false, "None": null };
  var cache = {};

  function tokenize(text) {
    var tokens = [], m;
    TOKEN.lastIndex = 0;
    while (TOKEN.lastIndex < text.length) {
      if (/^\s*$/.test(text.slice(TOKEN.lastIndex))) break;
      m = TOKEN.exec(text);
      if (!m) throw new Error("bad token");
      if (m[1] !== undefined) tokens.push({ t: "lit", v: parseFloat(m[1]) });
      else if (m[2] !== undefined) tokens.push({ t: "lit", v: m[2].slice(1, -1).replace(/\\(.)/g, function (_, c) { return c === "n" ? "\n" : c === "t" ? "\t" : c; }) });
      else if (m[3] !== undefined) tokens.push(m[3] in CONSTANTS ? { t: "lit", v: CONSTANTS[m[3]] } : ({ and: 1, or: 1, not: 1, "in": 1 }[m[3]] ? { t: "op", v: m[3] } : { t: "name", v: m[3] }));
      else tokens.push({ t: "op", v: m[4] });
    }
    return tokens;
  }

  function parse(text) {
    var tokens = tokenize(text), i = 0;
    function peek(v) { return tokens[i] && tokens[i].t === "op" && tokens[i].v === v; }
    function take(v) { if (!peek(v)) throw new Error("expected " + v); i++; }
    function orExpr() {
      var parts = [andExpr()];
      while (peek("or")) { i++; parts.push(andExpr()); }
      return parts.length === 1 ? parts[0] : function (env) { return parts.some(function (p) { return truthy(p(env)); }); };
    }
    function andExpr() {
      var parts = [notExpr()];
      while (peek("and")) { i++; parts.push(notExpr()); }
      return parts.length === 1 ? parts[0] : function (env) { return parts.every(function (p) { return truthy(p(env)); }); };
    }
    function notExpr() {
      if (peek("not")) { i++; var inner = notExpr(); return function (env) { return !truthy(inner(env)); }; }
      return comparison();
    }
    function comparison() {
      var first = unary(), ops = [], rest = [];
      for (;;) {
        var tok = tokens[i];
        if (!tok || tok.t !== "op") break;
        if (["==", "!=", "<", "<=", ">", ">=", "in"].indexOf(tok.v) >= 0) { i++; ops.push(tok.v); }
        else if (tok.v === "not" && tokens[i + 1] && tokens[i + 1].v === "in") { i += 2; ops.push("not in"); }
        else break;
        rest.push(unary());
      }
      if (!ops.length) return first;
      return function (env) {
        var left = first(env);
        for (var k = 0; k < ops.length; k++) {
          var right = rest[k](env);
          if (!compare(ops[k], left, right)) return false;
          left = right;
        }
        return true;
      };
    }
    function unary() {
      if (peek("-")) { i++; var inner = unary(); return function (env) { var v = inner(env); return typeof v === "number" ? -v : null; }; }
      return atom();
    }
    function list(close) {
      var items = [];
      while (!peek(close)) { items.push(orExpr()); if (!peek(close)) take(","); }
      take(close);
      return function (env) { return items.map(function (f) { return f(env); }); };
    }
    function atom() {
      var tok = tokens[i++];
      if (!tok) throw new Error("unexpected end");
      if (tok.t === "lit") return function () { return tok.v; };
      if (tok.t === "name") return function (env) { return env.hasOwnProperty(tok.v) ? env[tok.v] : null; };
      if (tok.v === "[") return list("]");
      if (tok.v === "(") {
        var inner = orExpr();
        if (peek(",")) { i++; var more = list(")"); return function (env) { return [inner(env)].concat(more(env)); }; }
        take(")");
        return inner;
      }
      throw new Error("unexpected " + tok.v);
    }
    var fn = orExpr();
    if (i !== tokens.length) throw new Error("trailing input");
    return fn;
  }

  function truthy(v) { return Array.isArray(v) ? v.length > 0 : !!v; }

  function numeric(v) { return typeof v === "string" && v.trim() !== "" && !isNaN(Number(v)); }

  function same(a, b) {
    if (typeof a === "number" && numeric(b)) b = Number(b);
    if (typeof b === "number" && numeric(a)) a = Number(a);
    return a === b;
  }

  function compare(op, a, b) {
    if (op === "==") return same(a, b);
    if (op === "!=") return !same(a, b);
    if (op === "in" || op === "not in") {
      var found;
      if (Array.isArray(b)) found = b.some(function (x) { return same(a, x); });
      else if (typeof b === "string" && typeof a === "string") found = b.indexOf(a) >= 0;
      else return false;
      return op === "in" ? found : !found;
    }
    if (typeof a === "number" && numeric(b)) b = Number(b);
    if (typeof b === "number" && numeric(a)) a = Number(a);
    if (a === null || b === null || typeof a !== typeof b) return false;
    return op === "<" ? a < b : op === "<=" ? a <= b : op === ">" ? a > b : a >= b;
  }

  function compiled(text) {
    if (!(text in cache)) {
      try { cache[text] = parse(text); } catch (e) { cache[text] = null; }
    }
    return cache[text];
  }

  function valueOf(box) {
    if (box.hidden) return null;
    var type = box.getAttribute("data-type");
    var inputs = box.querySelectorAll("input, select, textarea");
    var checked = Array.prototype.filter.call(inputs, function (el) { return el.checked; });
    if (type === "material") return checked.length > 0;
    if (type === "multi_choice") return checked.length ? checked.map(function (el) { return el.value; }) : null;
    if (type === "yes_no") return checked.length ? checked[0].value === "true" : null;
    var el = inputs[0];
    if (!el) return null;
    if (type === "file") return el.files && el.files.length ? true : null;
    var v = el.value.trim();
    if (v === "") return null;
    if (type === "integer" || type === "decimal") return isNaN(Number(v)) ? null : Number(v);
    return v;
  }

  function each(list, fn) { Array.prototype.forEach.call(list, fn); }

  function environment(boxes) {
    var env = {};
    each(boxes, function (box) { env[box.getAttribute("data-field")] = valueOf(box); });
    return env;
  }

  function refresh(form) {
    var boxes = form.querySelectorAll("[data-field]"), env;
    // Hiding one field may hide those that depend on it: repeat until stable.
    for (var round = 0; round <= boxes.length; round++) {
      var changed = false;
      env = environment(boxes);
      each(form.querySelectorAll("[data-show-if]"), function (box) {
        var fn = compiled(box.getAttribute("data-show-if"));
        var hide = fn ? !truthy(fn(env)) : false;
        if (hide !== box.hidden) { box.hidden = hide; changed = true; }
      });
      if (!changed) break;
    }
    env = environment(boxes);
    each(form.querySelectorAll("[data-show-if]"), function (box) {
      // Disabled controls are neither validated by the browser nor submitted.
      each(box.querySelectorAll("input, select, textarea, fieldset"), function (el) { el.disabled = box.hidden; });
    });
    each(form.querySelectorAll("[data-required-if]"), function (box) {
      var fn = compiled(box.getAttribute("data-required-if")), type = box.getAttribute("data-type");
      if (!fn || type === "multi_choice" || type === "material") return;
      var need = !box.hidden && truthy(fn(env));
      each(box.querySelectorAll("input, select, textarea"), function (el) { el.required = need; });
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("form[data-commission-form]"), function (form) {
    var update = function () { refresh(form); };
    form.addEventListener("change", update);
    form.addEventListener("input", update);
    update();
  });
})();
