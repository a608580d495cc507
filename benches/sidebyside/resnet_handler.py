"""TorchServe handler for the side-by-side benchmark's ResNet-18 (benches/sidebyside.sh).

The same work as ferroserve's examples/image-classifier handler: decode the JPEG or PNG,
torchvision's ImageNet recipe (shorter side to 256, bilinear with antialiasing; centre
crop 224x224; scale to 0..1; ImageNet mean/std), one forward over the stacked batch, then
per request the top 5 softmax probabilities as {"label": probability, ...}, most likely
first, with the labels from the archive's labels.txt.
"""

import io
import json
import os

import torch
from PIL import Image
from torchvision import transforms

from ts_threads import set_threads


TOPK = 5




class ResnetHandler:
    def __init__(self):
        self.model = None
        self.labels = []
        self.preprocess = transforms.Compose(
            [
                transforms.Resize(256),
                transforms.CenterCrop(224),
                transforms.ToTensor(),
                transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
            ]
        )

    def initialize(self, context):
        set_threads()
        model_dir = context.system_properties["model_dir"]
        path = os.path.join(model_dir, context.manifest["model"]["serializedFile"])
        self.model = torch.jit.load(path, map_location="cpu").eval()
        with open(os.path.join(model_dir, "labels.txt")) as f:
            self.labels = [line.rstrip("\n") for line in f if line.strip()]

    def handle(self, data, context):
        images = []
        for request in data:
            body = request.get("body")
            if body is None:
                body = request.get("data")
            image = Image.open(io.BytesIO(body)).convert("RGB")
            images.append(self.preprocess(image))
        with torch.inference_mode():
            probs = torch.softmax(self.model(torch.stack(images)), dim=1)
            top = torch.topk(probs, TOPK, dim=1)
        answers = []
        for idx, (values, indices) in enumerate(zip(top.values.tolist(), top.indices.tolist())):
            context.set_response_content_type(idx, "application/json")
            answers.append(json.dumps({self.labels[i]: p for i, p in zip(indices, values)}))
        return answers
