/* Collab Notes editor. Bundled packages and their licences: THIRD_PARTY_LICENSES.txt */
"use strict";(()=>{var d=["editor","split","preview"],i="collab-notes:view-mode",t="split";function e(o){try{let n=o().getItem(i);return d.find(r=>r===n)||t}catch{return t}}document.documentElement.dataset.viewMode=e(()=>window.localStorage);})();
