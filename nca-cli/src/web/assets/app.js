// The page of `nca serve`: draws the frames the server computes and sends the user's requests.
"use strict";

const canvas = document.getElementById("grid");
const context = canvas.getContext("2d");
const statusLine = document.getElementById("status");
const socket = new WebSocket(`ws://${location.host}/ws`);
socket.binaryType = "arraybuffer";

let gridSize = 72;
let playing = true;
let stepsPerSecond = 0;
let step = 0;
let delayMs = 0; // for speeds below 1x: wait before asking for the next frame
let plants = true; // whether the running model starts from a seed cell, which a double-click plants
const offscreen = document.createElement("canvas");

function send(message) {
  if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

function showStatus() {
  statusLine.textContent = `step ${step} · ${stepsPerSecond.toFixed(1)} steps/s · ${playing ? "playing" : "paused"}`;
}

socket.onmessage = (event) => {
  if (typeof event.data === "string") {
    const message = JSON.parse(event.data);
    if (message.type === "hello") {
      gridSize = message.size;
      const select = document.getElementById("model");
      select.replaceChildren(...modelOptions(message.models, message.current));
      document.getElementById("fire-rate").value = message.fire_rate;
      document.getElementById("fire-rate-value").textContent = message.fire_rate;
      plants = message.seed === "cell"; // a model seeded with zeros (a texture) has no seed cell
      document.getElementById("plant-hint").hidden = !plants;
      // A goal model's goals: the menu shows only for it.
      document.getElementById("goal").replaceChildren(
        ...message.goals.map((name, index) => new Option(name, index, false, index === message.goal)));
      document.getElementById("goal-control").hidden = message.goals.length === 0;
    } else if (message.type === "status") {
      stepsPerSecond = message.steps_per_second;
      playing = message.playing;
      showStatus();
    } else if (message.type === "refused") {
      statusLine.textContent = `refused: ${message.reason}`;
    }
    return;
  }
  const view = new DataView(event.data);
  step = view.getUint32(0, true);
  const width = view.getUint16(4, true);
  const height = view.getUint16(6, true);
  const pixels = new Uint8ClampedArray(event.data, 8, width * height * 4);
  offscreen.width = width;
  offscreen.height = height;
  offscreen.getContext("2d").putImageData(new ImageData(pixels, width, height), 0, 0);
  context.imageSmoothingEnabled = false;
  context.drawImage(offscreen, 0, 0, canvas.width, canvas.height);
  canvas.dataset.step = step;
  showStatus();
  setTimeout(() => send({ type: "ack" }), delayMs);
};

socket.onclose = () => { statusLine.textContent = "disconnected"; };

// Pointer position as fractions of the grid.
function position(event) {
  const box = canvas.getBoundingClientRect();
  return {
    x: Math.min(Math.max((event.clientX - box.left) / box.width, 0), 1),
    y: Math.min(Math.max((event.clientY - box.top) / box.height, 0), 1),
  };
}

let erasing = false;
canvas.addEventListener("pointerdown", (event) => { erasing = true; send({ type: "erase", ...position(event), radius: 0.08 }); });
canvas.addEventListener("pointermove", (event) => { if (erasing) send({ type: "erase", ...position(event), radius: 0.08 }); });
window.addEventListener("pointerup", () => { erasing = false; });
canvas.addEventListener("dblclick", (event) => { if (plants) send({ type: "seed", ...position(event) }); });

document.getElementById("play").addEventListener("click", (event) => {
  playing = !playing;
  send({ type: playing ? "play" : "pause" });
  event.target.textContent = playing ? "Pause" : "Play";
});
document.getElementById("reset").addEventListener("click", () => send({ type: "reset" }));
document.getElementById("model").addEventListener("change", (event) => send({ type: "model", index: Number(event.target.value) }));
document.getElementById("goal").addEventListener("change", (event) => send({ type: "goal", index: Number(event.target.value) }));

// Speed: 1/64x … 1x slows the frames down, 2x … 64x computes more steps per frame.
document.getElementById("speed").addEventListener("input", (event) => {
  const level = Number(event.target.value);
  const factor = 2 ** level;
  delayMs = level < 0 ? 1000 / 60 / factor : 0;
  send({ type: "speed", steps_per_frame: level > 0 ? factor : 1 });
  document.getElementById("speed-value").textContent = level < 0 ? `1/${2 ** -level}x` : `${factor}x`;
});
document.getElementById("angle").addEventListener("input", (event) => {
  send({ type: "angle", degrees: Number(event.target.value) });
  document.getElementById("angle-value").textContent = `${event.target.value}°`;
});
document.getElementById("fire-rate").addEventListener("input", (event) => {
  send({ type: "fire_rate", value: Number(event.target.value) });
  document.getElementById("fire-rate-value").textContent = event.target.value;
});

// The model menu: the paper's models ("🦎 growing (paper)") grouped by experiment, emoji by emoji,
// as the paper's demo offers them; any other model as it is named.
function modelOptions(names, current) {
  const groups = new Map();
  const options = [];
  names.forEach((name, index) => {
    const option = new Option(name, index, false, index === current);
    const paper = /^(.+) (growing|persistent|regenerating) \(paper\)$/.exec(name);
    if (!paper) {
      options.push(option);
      return;
    }
    option.text = paper[1];
    if (!groups.has(paper[2])) {
      const group = document.createElement("optgroup");
      group.label = `the paper's ${paper[2]} models`;
      groups.set(paper[2], group);
      options.push(group);
    }
    groups.get(paper[2]).append(option);
  });
  return options;
}
