/**
 * Loaded as a classic, render-blocking script in <head>: applies the remembered view mode and
 * chat panel before the first paint, so the page never shows one layout and then switches.
 */

import { readChatOpen, readViewMode } from './layout.js'

const storage = () => window.localStorage
document.documentElement.dataset.viewMode = readViewMode(storage)
document.documentElement.dataset.chat = readChatOpen(storage) ? 'open' : 'closed'
