/**
 * Loaded as a classic, render-blocking script in <head>: applies the remembered view mode before
 * the first paint, so the page never shows one layout and then switches to another.
 */

import { readViewMode } from './layout.js'

document.documentElement.dataset.viewMode = readViewMode(() => window.localStorage)
