// E1: as soon as ten digits of a CPR number are typed, ask the web UI (a POST with the form's CSRF
// token: the number never goes in a URL) whether the patient is registered at other departments,
// and show its answer under the field. Without this script the "Tjek CPR-nummer" button does it.
(function () {
  "use strict";
  var form = document.getElementById("create-patient");
  if (!form) { return; }
  var input = form.querySelector("#cpr");
  var message = form.querySelector("#cpr-message");
  var endpoint = form.getAttribute("data-cpr-check");
  var token = form.querySelector("input[name=csrf_token]").value;
  var asked = "";
  var pending = null;

  function digits(value) { return value.replace(/[\s-]/g, ""); }

  function show(level, text) {
    message.className = "cpr-message" + (level ? " " + level : "");
    message.textContent = text;
  }

  function check() {
    var value = digits(input.value);
    if (!/^\d{10}$/.test(value)) {
      asked = "";
      show("", "");
      return;
    }
    if (value === asked) { return; }
    asked = value;
    if (pending) { pending.abort(); }
    pending = new AbortController();
    var body = new FormData();
    body.append("csrf_token", token);
    body.append("cpr", input.value);
    fetch(endpoint, {method: "POST", body: body, credentials: "same-origin", signal: pending.signal,
                     headers: {"X-CSRFToken": token, "Accept": "application/json"}})
      .then(function (response) {
        if (!response.ok) { throw new Error("status " + response.status); }
        return response.json();
      })
      .then(function (answer) { if (digits(input.value) === value) { show(answer.level, answer.message); } })
      .catch(function (error) {
        if (error.name !== "AbortError") {
          asked = "";
          show("error", "CPR-nummeret kunne ikke tjekkes lige nu. Brug knappen \u201dTjek CPR-nummer\u201d.");
        }
      });
  }

  input.addEventListener("input", check);
  check();
}());
