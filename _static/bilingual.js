// Language switch for the dlnotes book: shows the lang-zh or the lang-en prose, never both.
// The choice is kept in localStorage (so it holds across pages and reloads); a first visit
// follows the browser's language. Without JavaScript both languages stay visible.
(function () {
  "use strict";
  var KEY = "dlnotes-lang";
  var root = document.documentElement;

  function saved() {
    try { return window.localStorage.getItem(KEY); } catch (e) { return null; }
  }
  function fromBrowser() {
    var langs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || "en"];
    return String(langs[0]).toLowerCase().indexOf("zh") === 0 ? "zh" : "en";
  }
  function current() {
    return root.getAttribute("data-dlnotes-lang") || "en";
  }
  function apply(lang) {
    root.setAttribute("data-dlnotes-lang", lang);
    root.setAttribute("lang", lang === "zh" ? "zh-CN" : "en");
    var button = document.getElementById("dlnotes-lang-switch");
    if (button) {
      // The button names the language it switches to.
      button.textContent = lang === "zh" ? "English" : "中文";
      button.title = lang === "zh" ? "Switch to English" : "切换到中文";
    }
  }
  function choose(lang) {
    try { window.localStorage.setItem(KEY, lang); } catch (e) { /* private mode: still switch */ }
    apply(lang);
  }

  var first = saved();
  apply(first === "zh" || first === "en" ? first : fromBrowser());

  function addButton() {
    if (document.getElementById("dlnotes-lang-switch")) return;
    var button = document.createElement("button");
    button.id = "dlnotes-lang-switch";
    button.type = "button";
    button.className = "btn dlnotes-lang-switch";
    button.addEventListener("click", function () { choose(current() === "zh" ? "en" : "zh"); });
    var host = document.querySelector(".article-header-buttons") ||
               document.querySelector(".header-article-items__end");
    if (host) {
      host.insertBefore(button, host.firstChild);
    } else {
      button.classList.add("dlnotes-lang-switch--floating");
      document.body.appendChild(button);
    }
    apply(current());
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", addButton);
  } else {
    addButton();
  }
})();
