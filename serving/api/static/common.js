// Shared by the chat and graph pages: calls to this server's API, with the API key if it
// needs one (asked once, kept in localStorage). Nothing here talks to any other host.
"use strict";

const KEY_STORE = "maint.apiKey";

function apiKey() {
  return window.localStorage.getItem(KEY_STORE) || "";
}

function askForKey(message) {
  const key = window.prompt(message || "This server needs an API key (MAINT_API_KEYS):", "");
  if (key === null) return false;
  window.localStorage.setItem(KEY_STORE, key.trim());
  return true;
}

function forgetKey() {
  window.localStorage.removeItem(KEY_STORE);
}

// fetch() against the API; on 401 asks for the key and tries once more.
async function api(path, options) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const opts = Object.assign({}, options || {});
    opts.headers = Object.assign({}, opts.headers || {});
    const key = apiKey();
    if (key) opts.headers["Authorization"] = "Bearer " + key;
    const response = await fetch(path, opts);
    if (response.status !== 401 || attempt === 1) return response;
    const again = key ? "That API key was refused. Enter a valid key:" : undefined;
    if (!askForKey(again)) return response;
  }
}

// The error message of an API error response ({"error": {"message": ...}}).
async function errorText(response) {
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) return body.error.message;
    return JSON.stringify(body);
  } catch (e) {
    return response.status + " " + response.statusText;
  }
}

// A DOM element with text content (never innerHTML: answers and manuals are not markup).
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function pagesOf(item) {
  if (item.page_start === null || item.page_start === undefined) return "";
  return item.page_end && item.page_end !== item.page_start
    ? "pp. " + item.page_start + "–" + item.page_end
    : "p. " + item.page_start;
}
